# SPDX-License-Identifier: Apache-2.0
"""The agent's notification payloads: event types, versions, validation.

The agent sends two notifications with priority ``sample`` (see
``doc/source/metrics-payload.rst`` for every field):

* ``drs.host.metrics``: one per cycle, the host and its guests;
* ``drs.host.hotspot``: when the set of hot resources of the host changes.

Both payloads carry ``"version": "MAJOR.MINOR"``. Their schema is one JSON
Schema document, :mod:`nova_drs.notifications.schema`, compiled here with
fastjsonschema. A receiver validates what it gets::

    from nova_drs.notifications import payload

    try:
        doc = payload.validate(message, event_type)
    except payload.PayloadError as e:
        LOG.warning('dropping %s from %s: %s', event_type, publisher, e)

and uses the document :func:`validate` returns: for a payload of a newer
minor version than this code knows (:data:`~.schema.KNOWN_MINOR`), a copy
without the keys this code does not know, so that nothing unvalidated is
used. A different major version is refused. The agent does not validate
its own payloads (it builds them within the schema's limits; the unit
tests check that); see :mod:`.signing` for their signature.
"""

import functools
import json
import re
import reprlib

from nova_drs.notifications import schema

#: event types and the payload version this code writes
METRICS_EVENT = 'drs.host.metrics'
HOTSPOT_EVENT = 'drs.host.hotspot'
#: 1.1: guests' ``cpu_ready`` and ``smoothed.cpu_demand``; 1.2: ``run_id``,
#: ``sequence`` and ``signature``, and the strict schema
VERSION = '1.%d' % schema.KNOWN_MINOR
SUPPORTED_MAJOR = 1
EVENT_TYPES = (METRICS_EVENT, HOTSPOT_EVENT)

RESOURCES = schema.RESOURCES
GUEST_STATES = schema.GUEST_STATES
BALLOON_ACTIONS = schema.BALLOON_ACTIONS

_VERSION_RE = re.compile(r'^(\d{1,4})\.(\d{1,4})\Z')


class PayloadError(ValueError):
    """The payload does not follow its schema; the message says where."""


class UnsupportedVersion(PayloadError):
    """The payload has a major version this code does not understand."""


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 200


def _short(value, limit=60):
    # NOTE: not repr(): a forged value may be nested deeper than it can go
    shown = _REPR.repr(value)
    return shown if len(shown) <= limit else shown[:limit - 3] + '...'


def check_version(payload):
    """Return ``(major, minor)`` of a payload this code understands.

    :raises PayloadError: no or malformed version.
    :raises UnsupportedVersion: a major version other than 1.
    """
    if not isinstance(payload, dict):
        raise PayloadError('payload: expected an object, got %s'
                           % _short(payload))
    version = payload.get('version')
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    if match is None:
        raise PayloadError('version: expected a "MAJOR.MINOR" string, got %s'
                           % _short(version))
    major, minor = int(match.group(1)), int(match.group(2))
    if major != SUPPORTED_MAJOR:
        raise UnsupportedVersion(
            'payload version %s is not supported (this code reads %d.x)'
            % (version, SUPPORTED_MAJOR))
    return major, minor


# -- the compiled schema -----------------------------------------------------

@functools.lru_cache(maxsize=None)
def _validator(event_type):
    """``(check, exception class)`` of one event type's schema."""
    # NOTE: imported and compiled on first use (some 70 ms per event type):
    # the agent, which never validates, does not pay for it
    import fastjsonschema
    return (fastjsonschema.compile(schema.for_event(event_type)),
            fastjsonschema.JsonSchemaValueException)


def prepare():
    """Compile the validators now, not on the first message."""
    for event_type in EVENT_TYPES:
        _validator(event_type)


def _location(name):
    # fastjsonschema names the value data.guests[3].memory
    if name == 'data':
        return 'payload'
    return name[5:] if name.startswith('data.') else name


def _error(e):
    """A PayloadError from fastjsonschema's exception, path first."""
    where = _location(e.name)
    if e.rule == 'required' and isinstance(e.value, dict):
        missing = [k for k in e.rule_definition if k not in e.value]
        return PayloadError('%s: missing required key%s %s' % (
            where, 's' if len(missing) > 1 else '',
            ', '.join(repr(k) for k in missing)))
    if e.rule == 'additionalProperties' and isinstance(e.value, dict):
        known = e.definition.get('properties', {})
        unknown = ', '.join(sorted(str(k) for k in e.value
                                   if k not in known))
        if len(unknown) > 60:
            unknown = unknown[:57] + '...'
        return PayloadError('%s: unknown key%s %s' % (
            where, 's' if ',' in unknown else '', unknown))
    why = e.message
    if why.startswith(e.name + ' '):
        why = why[len(e.name) + 1:]
    return PayloadError('%s: %s, got %s' % (where, why, _short(e.value)))


# -- newer minor versions: drop what this code does not know ----------------

def _shape(node):
    """The keys of a schema node, recursively: what :func:`_prune` keeps."""
    types = node.get('type')
    types = types if isinstance(types, list) else [types]
    if 'object' in types and 'properties' in node:
        return {k: _shape(v) for k, v in node['properties'].items()}
    if 'array' in types and 'items' in node:
        return [_shape(node['items'])]
    return None


@functools.lru_cache(maxsize=None)
def _shape_of(event_type):
    return _shape(schema.DOCUMENT['definitions'][event_type])


def _prune(value, shape):
    if shape is None:
        return value
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return value
        return {k: _prune(v, shape[k]) for k, v in value.items()
                if k in shape}
    if isinstance(value, list):
        return [_prune(v, shape[0]) for v in value]
    return value


def known_part(payload, event_type):
    """A copy of ``payload`` with only the keys the schema knows."""
    return _prune(payload, _shape_of(event_type))


def check_finite(payload):
    """Raise PayloadError if ``payload`` holds a NaN or an infinity.

    JSON has neither, but Python's decoder (and so oslo.messaging) reads
    ``NaN`` and ``Infinity``; a schema's bounds do not catch a NaN.
    :func:`nova_drs.notifications.signing.canonical` makes the same check
    as it serialises.
    """
    try:
        json.dumps(payload, allow_nan=False, check_circular=False)
    except ValueError:
        raise PayloadError('payload: holds a number that is not finite '
                           '(NaN or infinity)') from None
    except (TypeError, RecursionError) as e:
        raise PayloadError('payload: not JSON data (%s)' % e) from None


def validate(payload, event_type=METRICS_EVENT, finite_checked=False):
    """Check a payload of ``event_type`` against its schema.

    Every object is closed: a key the schema does not know is an error in
    a payload of a version this code knows (1.0 to 1.\\ ``KNOWN_MINOR``),
    and is removed from a payload of a newer minor version, which is then
    checked like the others.

    :param payload: the decoded notification payload.
    :param event_type: :data:`METRICS_EVENT` or :data:`HOTSPOT_EVENT`.
    :param finite_checked: the caller has already made sure that no number
        is a NaN or infinite (see :func:`check_finite`).
    :returns: the payload to use: ``payload`` itself, or for a newer minor
        version a copy holding the known keys only.
    :raises PayloadError: with the path of the first offending field, e.g.
        ``guests[3].memory.actual_mb: must be bigger than or equal to 0,
        got -1``.
    :raises UnsupportedVersion: (a PayloadError) for a major version other
        than 1.
    """
    if event_type not in EVENT_TYPES:
        raise PayloadError('unknown event type %r (known: %s)'
                           % (event_type, ', '.join(EVENT_TYPES)))
    check, invalid = _validator(event_type)
    _major, minor = check_version(payload)
    if minor > schema.KNOWN_MINOR:
        payload = known_part(payload, event_type)
    try:
        check(payload)
    except invalid as e:
        raise _error(e) from None
    if not finite_checked:
        check_finite(payload)
    return payload
