# SPDX-License-Identifier: Apache-2.0
"""The JSON Schema (draft 7) of cluster snapshots, format version 1.

:data:`DOCUMENT` checks each field on its own: its type, its bounds, the
keys of the per-resource objects. :mod:`nova_drs.model.snapshot`
validates a snapshot against it, then makes in Python the checks a schema
cannot express: unique names, references to hosts and server groups,
bounds that depend on another field (``reserved_host_cpus`` below
``vcpus``, ``mem_used_mb`` up to ``memory_mb``). The documentation,
``doc/source/snapshot-format.rst``, shows the document; print it with::

    python -m nova_drs.model.snapshot_schema

The format's conventions, as a schema says them:

* objects are open (unknown keys are ignored, so that an older reader
  takes a newer exporter's file), except the per-resource objects and
  ``peak``, whose keys are a closed set;
* ``null`` means absent: an optional field's type includes ``null``, a
  required field's does not;
* boolean fields also take strings (Nova server metadata values are
  strings; the reader says which strings mean true);
* an *integer* is any number without a fractional part (draft 7 counts
  ``8.0`` as an integer); numbers must also be finite, which the reader
  adds to the ``number`` type (JSON has no NaN, Python's decoder does).
"""

import json
import sys

from nova_drs.model import cluster

DRAFT = 'http://json-schema.org/draft-07/schema#'
SCHEMA_ID = 'https://opendev.org/openstack/nova-drs/schemas/snapshot-1.json'
FORMAT_VERSION = 1

RESOURCES = cluster.RESOURCES
#: an instance's ``peak`` keys, in resource order
PEAK_KEYS = ('cpu_util', 'mem_used_mb', 'disk_mb_s', 'net_mb_s')


# -- building blocks ---------------------------------------------------------

def _nullable(kind, required):
    return kind if required else [kind, 'null']


def integer(minimum, required=False):
    return {'type': _nullable('integer', required), 'minimum': minimum}


def number(minimum=0, maximum=None, required=False, exclusive=False):
    out = {'type': _nullable('number', required)}
    out['exclusiveMinimum' if exclusive else 'minimum'] = minimum
    if maximum is not None:
        out['maximum'] = maximum
    return out


def string(required=False):
    return {'type': _nullable('string', required), 'minLength': 1}


#: true, false or a string (which the reader turns into one of them)
FLAG = {'type': ['boolean', 'string', 'null']}


def obj(required, optional=None, closed=False):
    properties = dict(required)
    properties.update(optional or {})
    out = {'type': 'object', 'properties': properties,
           'required': list(required)}
    if closed:
        out['additionalProperties'] = False
    return out


def nullable(schema):
    return dict(schema, type=[schema['type'], 'null'])


def per_resource(maximum=None):
    """All four resources, each a number >= 0; no other key."""
    return nullable(obj({r: number(maximum=maximum, required=True)
                         for r in RESOURCES}, closed=True))


def array(items, required=False, min_items=None):
    out = {'type': _nullable('array', required), 'items': items}
    if min_items is not None:
        out['minItems'] = min_items
    return out


RESOURCE_LIST = array({'type': 'string', 'enum': list(RESOURCES)})

HOST = obj({
    'name': string(required=True),
    'vcpus': integer(1, required=True),
    'memory_mb': integer(1, required=True),
    'cpu_allocation_ratio': number(required=True, exclusive=True),
    'ram_allocation_ratio': number(required=True, exclusive=True),
}, optional={
    # at most vcpus - 1 and memory_mb - 1: checked by the reader
    'reserved_host_cpus': integer(0),
    'reserved_host_memory_mb': integer(0),
    'availability_zone': string(),
    'aggregates': array({'type': 'string'}),
    'disabled': FLAG,
    'maintenance': FLAG,
    'disk_capacity_mb_s': number(),
    'net_capacity_mb_s': number(),
    # the measured state
    'base_load': per_resource(),
    'thresholds': per_resource(maximum=1.0),
    'hot': RESOURCE_LIST,
})

INSTANCE = obj({
    'name': string(required=True),
    # one of the hosts' names: checked by the reader
    'host': string(required=True),
    'vcpus': integer(1, required=True),
    'memory_mb': integer(1, required=True),
    'cpu_util': number(maximum=100, required=True),
    # at most memory_mb: checked by the reader
    'mem_used_mb': number(required=True),
}, optional={
    'disk_mb_s': number(),
    'net_mb_s': number(),
    'dirty_rate_mb_s': number(),
    # one of the server groups' names: checked by the reader
    'server_group': string(),
    'opt_out': FLAG,
    'last_migrated_s': number(),
    # mem_used_mb at most memory_mb: checked by the reader
    'peak': nullable(obj({}, optional={
        'cpu_util': number(maximum=100),
        'mem_used_mb': number(),
        'disk_mb_s': number(),
        'net_mb_s': number(),
    }, closed=True)),
})

SERVER_GROUP = obj({
    'name': string(required=True),
    'policy': {'type': 'string',
               'enum': list(cluster.SERVER_GROUP_POLICIES)},
}, optional={
    'max_server_per_host': integer(1),
})

DOCUMENT = dict(obj({
    'hosts': array(HOST, required=True, min_items=1),
}, optional={
    # the reader refuses any other version before validating
    'version': {'const': FORMAT_VERSION},
    'instances': array(INSTANCE),
    'server_groups': array(SERVER_GROUP),
}), **{
    '$schema': DRAFT,
    '$id': SCHEMA_ID,
    'title': 'nova-drs cluster snapshot, format version %d'
             % FORMAT_VERSION,
    'description': 'See doc/source/snapshot-format.rst.',
})


def main():
    json.dump(DOCUMENT, sys.stdout, indent=2)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
