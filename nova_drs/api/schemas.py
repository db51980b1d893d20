# SPDX-License-Identifier: Apache-2.0
"""JSON schemas of every request body and query string.

Query strings are validated as objects of strings (what the URL
carries), before any value is converted; bodies as the JSON they are.
Unknown keys are refused, so that a misspelt filter is an error rather
than a silently unfiltered list. The messages name the offending field.
"""

import jsonschema

from nova_drs.balancer import plan_states
from nova_drs.db import models

UUID_PATTERN = ('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                '[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
#: compute service host names (Nova's column is 255 characters)
HOST_NAME = {'type': 'string', 'minLength': 1, 'maxLength': 255}
BOOLEAN_TEXT = {'type': 'string', 'enum': ['true', 'false']}
LIMIT = {'type': 'string', 'pattern': '^[1-9][0-9]{0,8}$'}


def _query(**properties):
    properties.setdefault('limit', LIMIT)
    return {'type': 'object', 'properties': properties,
            'additionalProperties': False}


#: an audit event's kind, or a prefix of kinds ending with a dot
EVENT_KIND = {'type': 'string', 'maxLength': 64,
              'pattern': r'^[a-z_]+(\.[a-z_]+)*\.?$'}
#: a timestamp in ISO 8601 with a time zone (the controller parses it)
TIMESTAMP = {'type': 'string', 'maxLength': 40,
             'pattern': r'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+'
                        r'(Z|[+-][0-9]{2}:?[0-9]{2})$'}

EVENTS_QUERY = _query(
    kind=EVENT_KIND,
    object={'type': 'string', 'pattern': UUID_PATTERN},
    actor={'type': 'string', 'minLength': 1, 'maxLength': 255},
    since=TIMESTAMP,
    sort_dir={'type': 'string', 'enum': ['asc', 'desc']},
    marker={'type': 'string', 'pattern': '^[1-9][0-9]{0,17}$'})

#: a query string without parameters
NO_QUERY = {'type': 'object', 'additionalProperties': False}

HOSTS_QUERY = _query(hot=BOOLEAN_TEXT, stale=BOOLEAN_TEXT,
                     marker=HOST_NAME)

PLANS_QUERY = _query(
    state={'type': 'string', 'enum': list(plan_states.PLAN_STATES)},
    origin={'type': 'string', 'enum': list(models.ORIGINS)},
    marker={'type': 'string', 'pattern': UUID_PATTERN})

MIGRATIONS_QUERY = _query(
    state={'type': 'string', 'enum': list(plan_states.ACTION_STATES)},
    instance={'type': 'string', 'pattern': UUID_PATTERN},
    host=HOST_NAME,
    plan={'type': 'string', 'pattern': UUID_PATTERN},
    marker={'type': 'string', 'pattern': UUID_PATTERN})

#: a body that must be empty when given (``{}``)
NO_BODY = {'type': 'object', 'additionalProperties': False}

PLAN_CREATE = {
    'type': 'object',
    'properties': {
        'strategy': {'type': 'string', 'minLength': 1, 'maxLength': 64},
    },
    'additionalProperties': False,
}

EVACUATE = {
    'type': 'object',
    'properties': {'apply': {'type': 'boolean'}},
    'additionalProperties': False,
}

#: an operator's reason for a change of the balancer's settings
REASON = {'type': 'string', 'maxLength': 255}

BALANCER_UPDATE = {
    'type': 'object',
    'properties': {
        # null: back to each replica's [drs_balancer] mode
        'mode': {'type': ['string', 'null'],
                 'enum': list(models.MODES) + [None]},
        'paused': {'type': 'boolean'},
        'reason': REASON,
    },
    'additionalProperties': False,
    'minProperties': 1,
}

HOST_UPDATE = {
    'type': 'object',
    'properties': {
        'paused': {'type': 'boolean'},
        'reason': REASON,
    },
    'required': ['paused'],
    'additionalProperties': False,
}

INSTANCE_UPDATE = {
    'type': 'object',
    'properties': {
        'opt_out': {'type': 'boolean'},
        # NOTE: the agent reads floors as MiB; 16 TiB is far above any
        # guest and keeps the metadata value short
        'balloon_floor_mb': {'type': ['integer', 'null'], 'minimum': 0,
                             'maximum': 16 * 1024 * 1024},
    },
    'additionalProperties': False,
    'minProperties': 1,
}


def _where(error):
    path = '.'.join(str(p) for p in error.absolute_path)
    return path or None


def validate(schema, value, what):
    """Check ``value`` against ``schema``; a clear message if it fails.

    :param what: ``body`` or ``query``, for the message
    :raises ValueError: the first problem found, naming the field
    """
    validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return
    field = _where(error)
    if error.validator == 'additionalProperties':
        unknown = sorted(set(value) - set(schema.get('properties', {})))
        allowed = sorted(schema.get('properties', {}))
        raise ValueError('unknown %s parameter(s) %s; allowed: %s' % (
            'query' if what == 'query' else 'body',
            ', '.join(unknown), ', '.join(allowed) or 'none'))
    if error.validator == 'enum':
        message = 'must be one of %s' % ', '.join(
            str(v) for v in error.validator_value)
    elif error.validator == 'pattern' and field == 'limit':
        message = 'must be a positive integer'
    elif error.validator == 'pattern':
        message = 'must be a UUID'
    else:
        message = error.message
    if field:
        raise ValueError('invalid %s: %s %s' % (what, field, message))
    raise ValueError('invalid %s: %s' % (what, message))
