# SPDX-License-Identifier: Apache-2.0
"""Schemas of the agent's notification payloads, and their validator.

The agent sends two notifications with priority ``sample`` (see
``doc/metrics-payload.rst`` for every field):

* ``drs.host.metrics``: one per cycle, the host and its guests;
* ``drs.host.hotspot``: when the set of hot resources of the host changes.

Both payloads carry ``"version": "MAJOR.MINOR"``. A minor version adds
optional fields only, so a receiver accepts any ``1.x`` and ignores keys it
does not know; a different major version is refused. The sender validates
what it sends and the receiver what it gets::

    from nova_drs.notifications import payload

    try:
        payload.validate(message, event_type)
    except payload.PayloadError as e:
        LOG.warning('dropping %s from %s: %s', event_type, publisher, e)

This module has no dependency beyond the standard library.
"""

import math
import re

#: event types and the payload version this code writes
METRICS_EVENT = 'drs.host.metrics'
HOTSPOT_EVENT = 'drs.host.hotspot'
#: 1.1: guests' ``cpu_ready`` and ``smoothed.cpu_demand``
VERSION = '1.1'
SUPPORTED_MAJOR = 1

RESOURCES = ('cpu', 'memory', 'disk', 'network')
GUEST_STATES = ('nostate', 'running', 'blocked', 'paused', 'shutdown',
                'shutoff', 'crashed', 'pmsuspended', 'unknown')
BALLOON_ACTIONS = ('grow', 'shrink', 'hold', 'none')

_VERSION_RE = re.compile(r'^(\d+)\.(\d+)$')
_TIMESTAMP_RE = re.compile(
    r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$')


class PayloadError(ValueError):
    """The payload does not follow its schema; the message says where."""


class UnsupportedVersion(PayloadError):
    """The payload has a major version this code does not understand."""


# -- schema building blocks: each is a function check(value, path) ----------

def _path(path):
    """``guests[3].memory`` from the nested ``(parent, key)`` pairs.

    The checks pass their position down as pairs and only a failure spells
    it out: an agent validates some 40,000 values a cycle.
    """
    if not isinstance(path, tuple):
        return path
    parent, key = path
    base = _path(parent)
    if isinstance(key, int):
        return '%s[%d]' % (base, key)
    return '%s.%s' % (base, key) if base else key


def _fail(path, expected, value):
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + '...'
    raise PayloadError('%s: expected %s, got %s' % (_path(path) or 'payload',
                                                    expected, shown))


def number(minimum=0.0, maximum=None, nullable=False, integer=False):
    kind = 'an integer' if integer else 'a number'
    if minimum is not None:
        kind += ' >= %s' % minimum
    if maximum is not None:
        kind += ' <= %s' % maximum
    if nullable:
        kind += ' or null'
    types = (int,) if integer else (int, float)
    low = -math.inf if minimum is None else minimum
    high = math.inf if maximum is None else maximum

    def check(value, path):
        if value is None:
            if not nullable:
                _fail(path, kind, value)
            return
        kind_of = type(value)
        # NOTE: the common case first; bool is an int, and NaN fails both
        # comparisons
        if kind_of is float and not integer or kind_of is int:
            if low <= value <= high and value - value == 0:
                return
        elif not isinstance(value, bool) and isinstance(value, types) \
                and math.isfinite(value) and low <= value <= high:
            return
        _fail(path, kind, value)
    return check


def string(nullable=False, pattern=None, choices=None):
    kind = 'a non-empty string'
    if choices:
        kind = 'one of %s' % ', '.join(choices)
    if nullable:
        kind += ' or null'

    def check(value, path):
        if value is None and nullable:
            return
        if not isinstance(value, str) or not value \
                or (pattern is not None and not pattern.match(value)) \
                or (choices is not None and value not in choices):
            _fail(path, kind, value)
    return check


def boolean():
    def check(value, path):
        if not isinstance(value, bool):
            _fail(path, 'true or false', value)
    return check


def obj(fields, optional=None, nullable=False):
    """A JSON object with required ``fields``; unknown keys are allowed."""
    optional = optional or {}
    kind = 'an object' + (' or null' if nullable else '')

    def check(value, path):
        if value is None and nullable:
            return
        if not isinstance(value, dict):
            _fail(path, kind, value)
        for name, field in fields.items():
            if name not in value:
                raise PayloadError('%s: missing required key %r'
                                   % (_path(path) or 'payload', name))
            field(value[name], (path, name))
        for name, field in optional.items():
            if name in value:
                field(value[name], (path, name))
    return check


def array(item, nullable=False):
    kind = 'a list' + (' or null' if nullable else '')

    def check(value, path):
        if value is None and nullable:
            return
        if not isinstance(value, list):
            _fail(path, kind, value)
        for i, element in enumerate(value):
            item(element, (path, i))
    return check


def per_resource(field):
    return obj({name: field for name in RESOURCES})


# -- the schemas of version 1 -----------------------------------------------

_RATE = number(nullable=True)
_SHARE = number(maximum=1.0, nullable=True)
_MB = number()
_TIMESTAMP = string(pattern=_TIMESTAMP_RE)

_HOST = obj({
    'name': string(),
    'timestamp': _TIMESTAMP,
    'interval_s': number(nullable=True),
    'cpu': obj({'count': number(minimum=1, integer=True),
                'util': _SHARE, 'iowait': _SHARE, 'steal': _SHARE}),
    'memory': obj({'total_mb': _MB, 'free_mb': _MB, 'available_mb': _MB,
                   'used_mb': _MB, 'swap_total_mb': _MB, 'swap_free_mb': _MB,
                   'major_fault_rate': _RATE, 'swap_in_mb_s': _RATE,
                   'swap_out_mb_s': _RATE}),
    'pressure': obj({'cpu_some': _RATE, 'memory_some': _RATE,
                     'memory_full': _RATE, 'io_some': _RATE,
                     'io_full': _RATE}, nullable=True),
    'disks': array(obj({'name': string(), 'read_mb_s': _RATE,
                        'write_mb_s': _RATE, 'read_iops': _RATE,
                        'write_iops': _RATE})),
    'nics': array(obj({'name': string(), 'rx_mb_s': _RATE,
                       'tx_mb_s': _RATE})),
    'load': per_resource(number()),
    'load_smoothed': per_resource(number()),
    'hotspot': per_resource(boolean()),
})

_GUEST = obj({
    'uuid': string(),
    'name': string(),
    'state': string(choices=GUEST_STATES),
    'vcpus': number(integer=True),
    'cpu_util': _SHARE,
    'vcpu_util': array(_SHARE, nullable=True),
    'memory': obj({'max_mb': _MB, 'actual_mb': _MB,
                   'total_mb': number(nullable=True),
                   'available_mb': number(nullable=True),
                   'unused_mb': number(nullable=True),
                   'used_mb': number(nullable=True),
                   'rss_mb': number(nullable=True),
                   'stats': boolean(),
                   'major_fault_rate': _RATE, 'swap_in_mb_s': _RATE,
                   'swap_out_mb_s': _RATE}),
    'disk': obj({'read_mb_s': _RATE, 'write_mb_s': _RATE,
                 'read_iops': _RATE, 'write_iops': _RATE}),
    'network': obj({'rx_mb_s': _RATE, 'tx_mb_s': _RATE}),
    'balloon': obj({'has_balloon': boolean(), 'autodeflate': boolean(),
                    'free_page_reporting': boolean(),
                    'floor_mb': number(nullable=True),
                    'target_mb': number(nullable=True),
                    'action': string(choices=BALLOON_ACTIONS),
                    'applied': boolean(),
                    'reason': string(nullable=True)}),
    'migrating': boolean(),
    'smoothed': obj({'cpu_util': number(), 'memory_used_mb': number()},
                    optional={'cpu_demand': number(maximum=1.0)}),
}, optional={'cpu_ready': _SHARE})

_UUIDS = array(string())

METRICS_SCHEMA = obj({
    'version': string(pattern=_VERSION_RE),
    'host': _HOST,
    'guests': array(_GUEST),
    'balloon': obj({'policy': string(), 'dry_run': boolean(),
                    'shrunk_mb': _MB, 'grown_mb': _MB,
                    'fpr_reclaimed_mb': _MB,
                    'without_autodeflate': _UUIDS,
                    'without_free_page_reporting': _UUIDS}),
    'agent': obj({'cycle_ms': _MB, 'libvirt_connected': boolean(),
                  'dropped_notifications': number(integer=True)}),
})

HOTSPOT_SCHEMA = obj({
    'version': string(pattern=_VERSION_RE),
    'host': string(),
    'timestamp': _TIMESTAMP,
    'hot': array(string(choices=RESOURCES)),
    'raised': array(string(choices=RESOURCES)),
    'cleared': array(string(choices=RESOURCES)),
    'load_smoothed': per_resource(number()),
    'thresholds': per_resource(number()),
})

SCHEMAS = {METRICS_EVENT: METRICS_SCHEMA, HOTSPOT_EVENT: HOTSPOT_SCHEMA}


def check_version(payload):
    """Return ``(major, minor)`` of a payload this code understands.

    :raises PayloadError: no or malformed version.
    :raises UnsupportedVersion: a major version other than 1.
    """
    if not isinstance(payload, dict):
        _fail('', 'an object', payload)
    version = payload.get('version')
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    if match is None:
        _fail('version', 'a "MAJOR.MINOR" string', version)
    major, minor = int(match.group(1)), int(match.group(2))
    if major != SUPPORTED_MAJOR:
        raise UnsupportedVersion(
            'payload version %s is not supported (this code reads %d.x)'
            % (version, SUPPORTED_MAJOR))
    return major, minor


def validate(payload, event_type=METRICS_EVENT):
    """Check a payload of ``event_type`` against its schema.

    Keys the schema does not know are accepted (later minor versions add
    them), missing or ill-typed known keys are not.

    :param payload: the decoded notification payload.
    :param event_type: :data:`METRICS_EVENT` or :data:`HOTSPOT_EVENT`.
    :raises PayloadError: with the path of the first offending field, e.g.
        ``guests[3].memory.actual_mb: expected a number >= 0.0, got -1``.
    :raises UnsupportedVersion: (a PayloadError) for a major version other
        than 1.
    """
    schema = SCHEMAS.get(event_type)
    if schema is None:
        raise PayloadError('unknown event type %r (known: %s)'
                           % (event_type, ', '.join(sorted(SCHEMAS))))
    check_version(payload)
    schema(payload, '')
    return payload
