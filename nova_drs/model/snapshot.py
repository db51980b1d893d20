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

FORMAT_VERSION = 1

_TRUE_STRINGS = ('1', 'true', 'yes', 'on')


class SnapshotError(ValueError):
    """The snapshot is malformed; the message names the field."""


def _field(obj, where, key, kind, required=True, default=None, minimum=None,
           maximum=None, exclusive_minimum=False):
    if key not in obj or obj[key] is None:
        if required:
            raise SnapshotError('%s.%s: required field is missing'
                                % (where, key))
        return default
    value = obj[key]
    path = '%s.%s' % (where, key)
    if kind is str:
        if not isinstance(value, str) or not value:
            raise SnapshotError('%s: must be a non-empty string' % path)
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.strip().lower() in _TRUE_STRINGS
        raise SnapshotError('%s: must be true or false' % path)
    if kind is list:
        if not isinstance(value, list) or not all(
                isinstance(v, str) for v in value):
            raise SnapshotError('%s: must be a list of strings' % path)
        return value
    # numbers: bool is an int subclass in Python, refuse it explicitly
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SnapshotError('%s: must be a number, got %r' % (path, value))
    if kind is int and not float(value).is_integer():
        raise SnapshotError('%s: must be a whole number, got %r'
                            % (path, value))
    if not math.isfinite(value):
        raise SnapshotError('%s: must be finite' % path)
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise SnapshotError('%s: must be greater than %s, got %r'
                                % (path, minimum, value))
        if not exclusive_minimum and value < minimum:
            raise SnapshotError('%s: must be at least %s, got %r'
                                % (path, minimum, value))
    if maximum is not None and value > maximum:
        raise SnapshotError('%s: must be at most %s, got %r'
                            % (path, maximum, value))
    return kind(value)


def _list(doc, key, required=True):
    value = doc.get(key, None if required else [])
    if value is None:
        raise SnapshotError('%s: required list is missing' % key)
    if not isinstance(value, list):
        raise SnapshotError('%s: must be a list' % key)
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise SnapshotError('%s[%d]: must be an object' % (key, n))
    return value


def _per_resource(obj, where, key, maximum=None):
    """An optional ``{resource: number}`` object with all four resources.

    :returns: the four values in :data:`cluster.RESOURCES` order, or None
    """
    value = obj.get(key)
    if value is None:
        return None
    path = '%s.%s' % (where, key)
    if not isinstance(value, dict):
        raise SnapshotError('%s: must be an object with the keys %s'
                            % (path, ', '.join(cluster.RESOURCES)))
    unknown = sorted(set(value) - set(cluster.RESOURCES))
    if unknown:
        raise SnapshotError('%s: unknown resource %r (one of %s)' % (
            path, unknown[0], ', '.join(cluster.RESOURCES)))
    return [_field(value, path, r, float, minimum=0, maximum=maximum)
            for r in cluster.RESOURCES]


#: an instance's ``peak`` keys, in resource order, with their bounds
PEAK_KEYS = ('cpu_util', 'mem_used_mb', 'disk_mb_s', 'net_mb_s')


def _peak(obj, where, memory_mb):
    """An instance's optional recent ``peak`` (any of :data:`PEAK_KEYS`).

    :returns: four values (CPU as a share 0-1, NaN where not given), or
        None when the instance has no ``peak``
    """
    value = obj.get('peak')
    if value is None:
        return None
    path = '%s.peak' % where
    if not isinstance(value, dict):
        raise SnapshotError('%s: must be an object with some of the keys %s'
                            % (path, ', '.join(PEAK_KEYS)))
    unknown = sorted(set(value) - set(PEAK_KEYS))
    if unknown:
        raise SnapshotError('%s: unknown key %r (one of %s)' % (
            path, unknown[0], ', '.join(PEAK_KEYS)))
    bounds = {'cpu_util': 100, 'mem_used_mb': memory_mb}
    out = [_field(value, path, key, float, required=False,
                  default=math.nan, minimum=0, maximum=bounds.get(key))
           for key in PEAK_KEYS]
    out[0] /= 100.0
    return out


def _resources(obj, where, key):
    """An optional list of resource names, as a row of four flags."""
    names = _field(obj, where, key, list, required=False)
    if names is None:
        return None
    unknown = sorted(set(names) - set(cluster.RESOURCES))
    if unknown:
        raise SnapshotError('%s.%s: unknown resource %r (one of %s)' % (
            where, key, unknown[0], ', '.join(cluster.RESOURCES)))
    return [r in names for r in cluster.RESOURCES]


def _index(values, table, value):
    if value not in table:
        table[value] = len(values)
        values.append(value)
    return table[value]


def from_dict(doc):
    """Build a :class:`~nova_drs.model.cluster.ClusterModel` from a dict."""
    if not isinstance(doc, dict):
        raise SnapshotError('snapshot: must be a JSON object')
    version = doc.get('version', FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise SnapshotError('version: unsupported snapshot version %r '
                            '(this nova-drs reads version %d)'
                            % (version, FORMAT_VERSION))

    groups, group_index = [], {}
    for n, g in enumerate(_list(doc, 'server_groups', required=False)):
        where = 'server_groups[%d]' % n
        name = _field(g, where, 'name', str)
        policy = _field(g, where, 'policy', str)
        if policy not in cluster.SERVER_GROUP_POLICIES:
            raise SnapshotError('%s.policy: must be one of %s, got %r' % (
                where, ', '.join(cluster.SERVER_GROUP_POLICIES), policy))
        if name in group_index:
            raise SnapshotError('%s.name: duplicate server group %r'
                                % (where, name))
        group_index[name] = len(groups)
        groups.append(cluster.ServerGroup(
            name, policy, _field(g, where, 'max_server_per_host', int,
                                 required=False, default=1, minimum=1)))

    zones, zone_index = [], {}
    agg_sets, agg_index = [], {}
    host_rows = []
    host_names = {}
    hosts_doc = _list(doc, 'hosts')
    if not hosts_doc:
        raise SnapshotError('hosts: must hold at least one host')
    # the measured host state (optional): host -> four values or None
    measured = {'base_load': [], 'thresholds': [], 'hot': []}
    for n, h in enumerate(hosts_doc):
        where = 'hosts[%d]' % n
        name = _field(h, where, 'name', str)
        if name in host_names:
            raise SnapshotError('%s.name: duplicate host %r' % (where, name))
        host_names[name] = n
        vcpus = _field(h, where, 'vcpus', int, minimum=1)
        memory = _field(h, where, 'memory_mb', int, minimum=1)
        reserved_cpus = _field(h, where, 'reserved_host_cpus', int,
                               required=False, default=0, minimum=0,
                               maximum=vcpus - 1)
        reserved_mem = _field(h, where, 'reserved_host_memory_mb', int,
                              required=False, default=0, minimum=0,
                              maximum=memory - 1)
        zone = _field(h, where, 'availability_zone', str, required=False,
                      default='nova')
        aggs = tuple(sorted(_field(h, where, 'aggregates', list,
                                   required=False, default=[])))
        disabled = (_field(h, where, 'disabled', bool, required=False,
                           default=False)
                    or _field(h, where, 'maintenance', bool, required=False,
                              default=False))
        host_rows.append((
            name, vcpus, memory, reserved_cpus, reserved_mem,
            _field(h, where, 'cpu_allocation_ratio', float, minimum=0,
                   exclusive_minimum=True),
            _field(h, where, 'ram_allocation_ratio', float, minimum=0,
                   exclusive_minimum=True),
            _index(zones, zone_index, zone),
            _index(agg_sets, agg_index, aggs),
            disabled,
            _field(h, where, 'disk_capacity_mb_s', float, required=False,
                   default=0.0, minimum=0),
            _field(h, where, 'net_capacity_mb_s', float, required=False,
                   default=0.0, minimum=0)))
        measured['base_load'].append(_per_resource(h, where, 'base_load'))
        measured['thresholds'].append(
            _per_resource(h, where, 'thresholds', maximum=1.0))
        measured['hot'].append(_resources(h, where, 'hot'))

    inst_rows = []
    inst_peaks = []
    seen = set()
    for n, i in enumerate(_list(doc, 'instances', required=False)):
        where = 'instances[%d]' % n
        name = _field(i, where, 'name', str)
        if name in seen:
            raise SnapshotError('%s.name: duplicate instance %r'
                                % (where, name))
        seen.add(name)
        host = _field(i, where, 'host', str)
        if host not in host_names:
            raise SnapshotError('%s.host: unknown host %r' % (where, host))
        memory = _field(i, where, 'memory_mb', int, minimum=1)
        inst_peaks.append(_peak(i, where, memory))
        group_name = _field(i, where, 'server_group', str, required=False)
        if group_name is not None and group_name not in group_index:
            raise SnapshotError('%s.server_group: unknown server group %r'
                                % (where, group_name))
        inst_rows.append((
            name, host_names[host],
            _field(i, where, 'vcpus', int, minimum=1),
            memory,
            _field(i, where, 'cpu_util', float, minimum=0,
                   maximum=100) / 100.0,
            _field(i, where, 'mem_used_mb', float, minimum=0,
                   maximum=memory),
            _field(i, where, 'disk_mb_s', float, required=False,
                   default=0.0, minimum=0),
            _field(i, where, 'net_mb_s', float, required=False,
                   default=0.0, minimum=0),
            _field(i, where, 'dirty_rate_mb_s', float, required=False,
                   default=0.0, minimum=0),
            cluster.NO_GROUP if group_name is None
            else group_index[group_name],
            _field(i, where, 'opt_out', bool, required=False,
                   default=False),
            _field(i, where, 'last_migrated_s', float, required=False,
                   default=math.inf, minimum=0)))

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
