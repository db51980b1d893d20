# SPDX-License-Identifier: Apache-2.0
"""The JSON Schema (draft 7) of the agent's notification payloads.

:data:`DOCUMENT` is one JSON Schema document; its ``definitions`` hold
the schema of each event type's payload under the event type's name
(``drs.host.metrics``, ``drs.host.hotspot``). It describes every payload
version 1.x this code knows (1.0 to :data:`KNOWN_MINOR`): every object is
closed (``additionalProperties: false``), every number bounded, every
string and list length-limited. :mod:`nova_drs.notifications.payload`
compiles it and checks what the balancer takes in;
``doc/source/metrics-payload.rst`` explains the fields and the limits.
Print it with::

    python -m nova_drs.notifications.schema

The limits are the module's constants, so that the agent can keep what it
sends within them (it truncates a long balloon reason, for instance)
without validating its own payloads.
"""

import json
import sys

DRAFT = 'http://json-schema.org/draft-07/schema#'
SCHEMA_ID = 'https://opendev.org/openstack/nova-drs/schemas/metrics-1.json'

#: the newest minor version of major 1 this code knows. A payload of a
#: newer 1.x is accepted, its unknown keys removed before validation.
KNOWN_MINOR = 2

# -- limits (documented in doc/source/metrics-payload.rst) ---------------

#: sizes in MiB: 64 TiB, more memory than any x86 host has
MAX_MB = 64 * 1024 * 1024
#: transfer rates in MiB/s: 1 TiB/s, beyond any host's disks or NICs
MAX_MB_S = 1024 * 1024
#: I/O operations per second (NVMe hosts do some 10 million)
MAX_IOPS = 100_000_000
#: events per second (page faults): 1e9, above what memory bandwidth allows
MAX_EVENT_RATE = 1_000_000_000
#: a share of CPU time that may slightly exceed 1 (CPU ready and demand
#: add two rounded values)
MAX_CPU_OVERSHOOT = 1.05
#: pressure stall information: a percentage of time
MAX_PERCENT = 100.0
#: seconds between two samples of the agent (the interval is at most an
#: hour; a stalled agent may measure a longer one)
MAX_INTERVAL_S = 86400.0
#: milliseconds of one cycle
MAX_CYCLE_MS = 3_600_000.0
#: counters and sequence numbers: JSON's largest exact integer
MAX_COUNT = 2 ** 53 - 1
#: CPUs of a host (Linux builds for at most 8192)
MAX_CPUS = 16384
#: vCPUs of a guest (KVM allows up to 4096)
MAX_VCPUS = 4096
#: guests in one payload
MAX_GUESTS = 4096
#: disks and NICs of a host in one payload
MAX_DEVICES = 1024
#: a libvirt domain name, a disk or NIC name, a policy name
MAX_NAME = 255
#: the free text of a balloon decision
MAX_REASON = 1024

#: what Nova accepts as a host name (its API's ``hostname`` parameter
#: type): 1-255 letters, digits, ``-``, ``.`` and ``_``
HOSTNAME_PATTERN = '^[a-zA-Z0-9._-]{1,255}$'
UUID_PATTERN = ('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                '[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
VERSION_PATTERN = r'^[0-9]{1,4}\.[0-9]{1,4}$'
TIMESTAMP_PATTERN = (r'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:'
                     r'[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$')
#: the versions before 1.2, which may leave out what 1.2 requires
OLDER_THAN_1_2 = r'^[0-9]{1,4}\.[01]$'
#: an HMAC-SHA256 in lowercase hexadecimal
DIGEST_PATTERN = '^[0-9a-f]{64}$'

RESOURCES = ('cpu', 'memory', 'disk', 'network')
GUEST_STATES = ('nostate', 'running', 'blocked', 'paused', 'shutdown',
                'shutoff', 'crashed', 'pmsuspended', 'unknown')
BALLOON_ACTIONS = ('grow', 'shrink', 'hold', 'none')
#: which key signed a payload (see nova_drs.notifications.signing)
KEY_KINDS = ('shared', 'host')


# -- building blocks ---------------------------------------------------------

def number(maximum, minimum=0, nullable=False, integer=False):
    kind = 'integer' if integer else 'number'
    return {'type': [kind, 'null'] if nullable else kind,
            'minimum': minimum, 'maximum': maximum}


def string(max_length=MAX_NAME, pattern=None, nullable=False):
    out = {'type': ['string', 'null'] if nullable else 'string',
           'minLength': 1, 'maxLength': max_length}
    if pattern:
        out['pattern'] = pattern
    return out


def choice(values):
    return {'type': 'string', 'enum': list(values)}


def array(items, max_items, nullable=False, unique=False):
    out = {'type': ['array', 'null'] if nullable else 'array',
           'items': items, 'maxItems': max_items}
    if unique:
        out['uniqueItems'] = True
    return out


def obj(required, optional=None, nullable=False):
    """A closed object: ``required`` and ``optional`` keys only."""
    properties = dict(required)
    properties.update(optional or {})
    return {'type': ['object', 'null'] if nullable else 'object',
            'properties': properties, 'required': sorted(required),
            'additionalProperties': False}


def per_resource(item):
    return obj({name: item for name in RESOURCES})


BOOLEAN = {'type': 'boolean'}
SHARE = number(1.0)
SHARE_OR_NULL = number(1.0, nullable=True)
CPU_SHARE_OR_NULL = number(MAX_CPU_OVERSHOOT, nullable=True)
MB = number(MAX_MB)
MB_OR_NULL = number(MAX_MB, nullable=True)
MB_S = number(MAX_MB_S, nullable=True)
IOPS = number(MAX_IOPS, nullable=True)
EVENT_RATE = number(MAX_EVENT_RATE, nullable=True)
PERCENT = number(MAX_PERCENT, nullable=True)
COUNT = number(MAX_COUNT, integer=True)
TIMESTAMP = string(40, TIMESTAMP_PATTERN)
HOSTNAME = string(255, HOSTNAME_PATTERN)
UUID = string(36, UUID_PATTERN)
VERSION = string(9, VERSION_PATTERN)

# 1.2: who sent it, in which order, and its signature
ORIGIN = {
    'run_id': UUID,
    'sequence': COUNT,
    'signature': obj({'key': choice(KEY_KINDS),
                      'hmac_sha256': string(64, DIGEST_PATTERN)}),
}

HOST = obj({
    'name': HOSTNAME,
    'timestamp': TIMESTAMP,
    'interval_s': number(MAX_INTERVAL_S, nullable=True),
    'cpu': obj({'count': number(MAX_CPUS, minimum=1, integer=True),
                'util': SHARE_OR_NULL, 'iowait': SHARE_OR_NULL,
                'steal': SHARE_OR_NULL}),
    'memory': obj({'total_mb': MB, 'free_mb': MB, 'available_mb': MB,
                   'used_mb': MB, 'swap_total_mb': MB, 'swap_free_mb': MB,
                   'major_fault_rate': EVENT_RATE, 'swap_in_mb_s': MB_S,
                   'swap_out_mb_s': MB_S}),
    'pressure': obj({'cpu_some': PERCENT, 'memory_some': PERCENT,
                     'memory_full': PERCENT, 'io_some': PERCENT,
                     'io_full': PERCENT}, nullable=True),
    'disks': array(obj({'name': string(), 'read_mb_s': MB_S,
                        'write_mb_s': MB_S, 'read_iops': IOPS,
                        'write_iops': IOPS}), MAX_DEVICES),
    'nics': array(obj({'name': string(), 'rx_mb_s': MB_S,
                       'tx_mb_s': MB_S}), MAX_DEVICES),
    'load': per_resource(SHARE),
    'load_smoothed': per_resource(SHARE),
    'hotspot': per_resource(BOOLEAN),
}, optional={
    # 1.2 (required from 1.2 on, see METRICS): the [drs] thresholds the
    # agent judged ``hotspot`` with
    'thresholds': per_resource(SHARE),
})

GUEST = obj({
    'uuid': UUID,
    'name': string(),
    'state': choice(GUEST_STATES),
    'vcpus': number(MAX_VCPUS, integer=True),
    'cpu_util': SHARE_OR_NULL,
    'vcpu_util': array(SHARE_OR_NULL, MAX_VCPUS, nullable=True),
    'memory': obj({'max_mb': MB, 'actual_mb': MB,
                   'total_mb': MB_OR_NULL, 'available_mb': MB_OR_NULL,
                   'unused_mb': MB_OR_NULL, 'used_mb': MB_OR_NULL,
                   'rss_mb': MB_OR_NULL, 'stats': BOOLEAN,
                   'major_fault_rate': EVENT_RATE, 'swap_in_mb_s': MB_S,
                   'swap_out_mb_s': MB_S}),
    'disk': obj({'read_mb_s': MB_S, 'write_mb_s': MB_S,
                 'read_iops': IOPS, 'write_iops': IOPS}),
    'network': obj({'rx_mb_s': MB_S, 'tx_mb_s': MB_S}),
    'balloon': obj({'has_balloon': BOOLEAN, 'autodeflate': BOOLEAN,
                    'free_page_reporting': BOOLEAN,
                    'floor_mb': MB_OR_NULL, 'target_mb': MB_OR_NULL,
                    'action': choice(BALLOON_ACTIONS),
                    'applied': BOOLEAN,
                    'reason': string(MAX_REASON, nullable=True)}),
    'migrating': BOOLEAN,
    'smoothed': obj({'cpu_util': SHARE, 'memory_used_mb': MB},
                    # 1.1
                    optional={'cpu_demand': number(MAX_CPU_OVERSHOOT)}),
}, optional={'cpu_ready': CPU_SHARE_OR_NULL})   # 1.1

METRICS = obj({
    'version': VERSION,
    'host': HOST,
    'guests': array(GUEST, MAX_GUESTS),
    'balloon': obj({'policy': string(), 'dry_run': BOOLEAN,
                    'shrunk_mb': MB, 'grown_mb': MB,
                    'fpr_reclaimed_mb': MB,
                    'without_autodeflate': array(UUID, MAX_GUESTS),
                    'without_free_page_reporting': array(UUID,
                                                         MAX_GUESTS)}),
    'agent': obj({'cycle_ms': number(MAX_CYCLE_MS),
                  'libvirt_connected': BOOLEAN,
                  'dropped_notifications': COUNT}),
}, optional=ORIGIN)
# the host's thresholds are required from 1.2 on: the balancer judges each
# host by its agent's thresholds (1.0 and 1.1: by its own [drs] ones)
METRICS.update({
    'if': {'properties': {'version': {'pattern': OLDER_THAN_1_2}}},
    'else': {'properties': {'host': {'required': ['thresholds']}}},
})

_RESOURCE_LIST = array(choice(RESOURCES), len(RESOURCES), unique=True)

HOTSPOT = obj({
    'version': VERSION,
    'host': HOSTNAME,
    'timestamp': TIMESTAMP,
    'hot': _RESOURCE_LIST,
    'raised': _RESOURCE_LIST,
    'cleared': _RESOURCE_LIST,
    'load_smoothed': per_resource(SHARE),
    'thresholds': per_resource(SHARE),
}, optional=ORIGIN)

#: the document: one definition per event type
DOCUMENT = {
    '$schema': DRAFT,
    '$id': SCHEMA_ID,
    'title': 'nova-drs agent notification payloads, version 1.%d'
             % KNOWN_MINOR,
    'description': 'The payload of each event type is the definition of '
                   'that name. See doc/source/metrics-payload.rst.',
    'definitions': {
        'drs.host.metrics': METRICS,
        'drs.host.hotspot': HOTSPOT,
    },
}


def for_event(event_type):
    """A standalone schema of one event type's payload (a copy).

    :raises KeyError: an event type the document does not define.
    """
    return dict(DOCUMENT['definitions'][event_type], **{'$schema': DRAFT})


def main():
    json.dump(DOCUMENT, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
