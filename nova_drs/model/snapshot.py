# SPDX-License-Identifier: Apache-2.0
"""Read and write cluster snapshots (JSON).

A snapshot is the cluster as the balancer sees it at one moment, with loads
already smoothed. ``nova-drs plan`` reads it; the balancer service exports
live clusters in the same format. The format is documented in
``doc/source/snapshot-format.rst``; every violation raises
:class:`SnapshotError` naming the offending field, e.g.
``instances[3].cpu_util``.
"""

import json
import math

import numpy as np

from nova_drs.model import cluster
from nova_drs.model import snapshot_check
from nova_drs.model import snapshot_schema as schema

FORMAT_VERSION = schema.FORMAT_VERSION
#: an instance's ``peak`` keys, in resource order
PEAK_KEYS = schema.PEAK_KEYS

_TRUE_STRINGS = ('1', 'true', 'yes', 'on')


class SnapshotError(ValueError):
    """The snapshot is malformed; the message names the field."""


def _flag(value):
    """A boolean field: true, false, or a string saying which (or None)."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def _get(obj, key, default):
    value = obj.get(key)
    return default if value is None else value


def _per_resource(obj, key):
    """An optional ``{resource: number}``: four values or None."""
    value = obj.get(key)
    if value is None:
        return None
    return [float(value[r]) for r in cluster.RESOURCES]


def _peak(obj, where, memory_mb):
    """An instance's optional recent ``peak`` (any of :data:`PEAK_KEYS`).

    :returns: four values (CPU as a share 0-1, NaN where not given), or
        None when the instance has no ``peak``
    """
    value = obj.get('peak')
    if value is None:
        return None
    out = [float(_get(value, key, math.nan)) for key in PEAK_KEYS]
    _at_most(out[1], memory_mb, '%s.peak.mem_used_mb' % where)
    out[0] /= 100.0
    return out


def _resources(obj, key):
    """An optional list of resource names, as a row of four flags."""
    names = obj.get(key)
    if names is None:
        return None
    return [r in names for r in cluster.RESOURCES]


def _at_most(value, maximum, path):
    # a bound that depends on another field, which a schema cannot say
    if value > maximum:
        raise SnapshotError('%s: must be at most %s, got %r'
                            % (path, maximum, value))


def _index(values, table, value):
    if value not in table:
        table[value] = len(values)
        values.append(value)
    return table[value]


def from_dict(doc):
    """Build a :class:`~nova_drs.model.cluster.ClusterModel` from a dict.

    :raises SnapshotError: the first problem found, naming the field.
    """
    if not isinstance(doc, dict):
        raise SnapshotError('snapshot: must be a JSON object')
    version = doc.get('version', FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise SnapshotError('version: unsupported snapshot version %r '
                            '(this nova-drs reads version %d)'
                            % (version, FORMAT_VERSION))
    problem = snapshot_check.first_problem(doc)
    if problem:
        raise SnapshotError(problem)

    groups, group_index = [], {}
    for n, g in enumerate(doc.get('server_groups') or ()):
        name = g['name']
        if name in group_index:
            raise SnapshotError('server_groups[%d].name: duplicate server '
                                'group %r' % (n, name))
        group_index[name] = len(groups)
        groups.append(cluster.ServerGroup(
            name, g['policy'], int(_get(g, 'max_server_per_host', 1))))

    zones, zone_index = [], {}
    agg_sets, agg_index = [], {}
    host_rows = []
    host_names = {}
    # the measured host state (optional): host -> four values or None
    measured = {'base_load': [], 'thresholds': [], 'hot': []}
    for n, h in enumerate(doc['hosts']):
        where = 'hosts[%d]' % n
        name = h['name']
        if name in host_names:
            raise SnapshotError('%s.name: duplicate host %r' % (where, name))
        host_names[name] = n
        vcpus, memory = int(h['vcpus']), int(h['memory_mb'])
        reserved_cpus = int(_get(h, 'reserved_host_cpus', 0))
        _at_most(reserved_cpus, vcpus - 1, where + '.reserved_host_cpus')
        reserved_mem = int(_get(h, 'reserved_host_memory_mb', 0))
        _at_most(reserved_mem, memory - 1,
                 where + '.reserved_host_memory_mb')
        aggs = tuple(sorted(_get(h, 'aggregates', ())))
        host_rows.append((
            name, vcpus, memory, reserved_cpus, reserved_mem,
            float(h['cpu_allocation_ratio']),
            float(h['ram_allocation_ratio']),
            _index(zones, zone_index, _get(h, 'availability_zone', 'nova')),
            _index(agg_sets, agg_index, aggs),
            _flag(h.get('disabled')) or _flag(h.get('maintenance')),
            float(_get(h, 'disk_capacity_mb_s', 0.0)),
            float(_get(h, 'net_capacity_mb_s', 0.0))))
        measured['base_load'].append(_per_resource(h, 'base_load'))
        measured['thresholds'].append(_per_resource(h, 'thresholds'))
        measured['hot'].append(_resources(h, 'hot'))

    inst_rows = []
    inst_peaks = []
    seen = set()
    for n, i in enumerate(doc.get('instances') or ()):
        where = 'instances[%d]' % n
        name = i['name']
        if name in seen:
            raise SnapshotError('%s.name: duplicate instance %r'
                                % (where, name))
        seen.add(name)
        host = i['host']
        if host not in host_names:
            raise SnapshotError('%s.host: unknown host %r' % (where, host))
        memory = int(i['memory_mb'])
        mem_used = float(i['mem_used_mb'])
        _at_most(mem_used, memory, where + '.mem_used_mb')
        inst_peaks.append(_peak(i, where, memory))
        group_name = i.get('server_group')
        if group_name is not None and group_name not in group_index:
            raise SnapshotError('%s.server_group: unknown server group %r'
                                % (where, group_name))
        inst_rows.append((
            name, host_names[host], int(i['vcpus']), memory,
            float(i['cpu_util']) / 100.0, mem_used,
            float(_get(i, 'disk_mb_s', 0.0)),
            float(_get(i, 'net_mb_s', 0.0)),
            float(_get(i, 'dirty_rate_mb_s', 0.0)),
            cluster.NO_GROUP if group_name is None
            else group_index[group_name],
            _flag(i.get('opt_out')),
            float(_get(i, 'last_migrated_s', math.inf))))

    hosts = _hosts_from_rows(host_rows)
    # hosts without the field: no base load, the planner's thresholds;
    # once one host has hot flags, a host without them is not hot
    hosts.base_load = _measured(measured['base_load'], 0.0, float)
    hosts.thresholds = _measured(measured['thresholds'], np.nan, float)
    hosts.hot = _measured(measured['hot'], False, bool)
    instances = _instances_from_rows(inst_rows)
    if any(p is not None for p in inst_peaks):
        instances.peak = np.array([[math.nan] * len(PEAK_KEYS)
                                   if p is None else p
                                   for p in inst_peaks], dtype=float)
    return cluster.ClusterModel(hosts, instances, groups, zones or ['nova'],
                                agg_sets or [()])


def _measured(rows, missing, dtype):
    """A (hosts, 4) array of optional rows; None when no host has one."""
    if all(row is None for row in rows):
        return None
    return np.array([[missing] * len(cluster.RESOURCES) if row is None
                     else row for row in rows], dtype=dtype)


def _column(rows, col, dtype):
    return np.array([r[col] for r in rows], dtype=dtype)


def _hosts_from_rows(rows):
    return cluster.Hosts(
        names=[r[0] for r in rows],
        vcpus=_column(rows, 1, np.int64),
        memory_mb=_column(rows, 2, np.int64),
        reserved_host_cpus=_column(rows, 3, np.int64),
        reserved_host_memory_mb=_column(rows, 4, np.int64),
        cpu_allocation_ratio=_column(rows, 5, float),
        ram_allocation_ratio=_column(rows, 6, float),
        availability_zone=_column(rows, 7, np.int64),
        aggregates=_column(rows, 8, np.int64),
        disabled=_column(rows, 9, bool),
        disk_capacity_mb_s=_column(rows, 10, float),
        net_capacity_mb_s=_column(rows, 11, float))


def _instances_from_rows(rows):
    return cluster.Instances(
        names=[r[0] for r in rows],
        host=_column(rows, 1, np.int64),
        vcpus=_column(rows, 2, np.int64),
        memory_mb=_column(rows, 3, np.int64),
        cpu_util=_column(rows, 4, float),
        mem_used_mb=_column(rows, 5, float),
        disk_mb_s=_column(rows, 6, float),
        net_mb_s=_column(rows, 7, float),
        dirty_rate_mb_s=_column(rows, 8, float),
        group=_column(rows, 9, np.int64),
        opt_out=_column(rows, 10, bool),
        last_migrated_s=_column(rows, 11, float))


def load(path):
    """Read a snapshot file; :class:`SnapshotError` when it is unusable."""
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except OSError as e:
        raise SnapshotError('%s: cannot read snapshot: %s'
                            % (path, e.strerror or e))
    except (ValueError, UnicodeDecodeError) as e:
        raise SnapshotError('%s: not valid JSON: %s' % (path, e))
    return from_dict(doc)


def to_dict(model):
    """The snapshot dict of a model (the inverse of :func:`from_dict`)."""
    h, i = model.hosts, model.instances
    hosts = []
    for n, name in enumerate(h.names):
        row = {
            'name': name,
            'vcpus': int(h.vcpus[n]),
            'memory_mb': int(h.memory_mb[n]),
            'cpu_allocation_ratio': float(h.cpu_allocation_ratio[n]),
            'ram_allocation_ratio': float(h.ram_allocation_ratio[n]),
            'reserved_host_cpus': int(h.reserved_host_cpus[n]),
            'reserved_host_memory_mb': int(h.reserved_host_memory_mb[n]),
            'availability_zone': model.zones[h.availability_zone[n]],
            'aggregates': list(model.aggregate_sets[h.aggregates[n]]),
            'disabled': bool(h.disabled[n]),
        }
        if h.disk_capacity_mb_s[n]:
            row['disk_capacity_mb_s'] = float(h.disk_capacity_mb_s[n])
        if h.net_capacity_mb_s[n]:
            row['net_capacity_mb_s'] = float(h.net_capacity_mb_s[n])
        row.update(_measured_fields(h, n))
        hosts.append(row)
    instances = []
    for n, name in enumerate(i.names):
        row = {
            'name': name,
            'host': h.names[i.host[n]],
            'vcpus': int(i.vcpus[n]),
            'memory_mb': int(i.memory_mb[n]),
            'cpu_util': round(float(i.cpu_util[n]) * 100.0, 6),
            'mem_used_mb': float(i.mem_used_mb[n]),
        }
        for key in ('disk_mb_s', 'net_mb_s', 'dirty_rate_mb_s'):
            value = float(getattr(i, key)[n])
            if value:
                row[key] = value
        if i.group[n] != cluster.NO_GROUP:
            row['server_group'] = model.groups[i.group[n]].name
        if i.opt_out[n]:
            row['opt_out'] = True
        if math.isfinite(i.last_migrated_s[n]):
            row['last_migrated_s'] = float(i.last_migrated_s[n])
        peak = _peak_fields(i, n)
        if peak:
            row['peak'] = peak
        instances.append(row)
    groups = [{'name': g.name, 'policy': g.policy,
               'max_server_per_host': g.max_server_per_host}
              for g in model.groups]
    return {'version': FORMAT_VERSION, 'hosts': hosts,
            'instances': instances, 'server_groups': groups}


def _peak_fields(instances, n):
    """Instance ``n``'s known recent peak, as a snapshot writes it."""
    if instances.peak is None:
        return {}
    out = {}
    for key, value in zip(PEAK_KEYS, instances.peak[n].tolist()):
        if math.isfinite(value):
            out[key] = round(value * 100.0, 6) if key == 'cpu_util' \
                else value
    return out


def _measured_fields(hosts, n):
    """The optional measured state of host ``n`` (see from_dict)."""
    out = {}
    if hosts.base_load is not None and hosts.base_load[n].any():
        out['base_load'] = dict(zip(cluster.RESOURCES,
                                    hosts.base_load[n].tolist()))
    if hosts.thresholds is not None and \
            not np.isnan(hosts.thresholds[n]).any():
        out['thresholds'] = dict(zip(cluster.RESOURCES,
                                     hosts.thresholds[n].tolist()))
    if hosts.hot is not None:
        out['hot'] = [r for r, flag in zip(cluster.RESOURCES, hosts.hot[n])
                      if flag]
    return out


def dump(model, path):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(to_dict(model), f, indent=1)
        f.write('\n')
