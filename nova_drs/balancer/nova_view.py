# SPDX-License-Identifier: Apache-2.0
"""The cluster as Nova and Placement see it, as a ClusterModel.

:func:`collect` reads, through openstacksdk (compute API microversion 2.47
or later, negotiated by the sdk):

* compute services (``/os-services``): a host whose nova-compute is
  disabled, forced down or down is marked ``disabled`` (Nova's
  ComputeFilter sends nothing there); their ``zone`` is the host's
  availability zone;
* hypervisors (``/os-hypervisors/detail``): which compute node, hence
  which resource provider, belongs to which compute host;
* Placement inventories of each compute node's resource provider: VCPU and
  MEMORY_MB ``total``, ``reserved`` and ``allocation_ratio``. These, not
  nova.conf defaults or the hypervisor API (which stopped reporting sizes
  in 2.88), are what Nova enforces when it schedules, so the balancer
  plans with them;
* host aggregates (``/os-aggregates``);
* servers of all projects with their embedded flavor (vCPUs, RAM) and
  metadata; the ``[drs_balancer] opt_out_metadata_key`` key opts a server
  out of automatic migration;
* server groups of all projects: policy, members and the
  ``max_server_per_host`` rule;
* recent completed migrations (``/os-migrations``), for the time since an
  instance last moved (``[drs_balancer] instance_cooldown``).

Names. Hosts are keyed by the **compute service host** (``[DEFAULT] host``
of nova-compute, the ``host`` of ``/os-services``; ``server.compute_host``
of a server): that is the name Nova's live migration API takes in
``host=``. For libvirt it usually equals the hypervisor hostname, but not
always (a host renamed, or an FQDN as ``hypervisor_hostname``).
Instances are keyed by server id (uuid): server names need not be unique.
Server groups are keyed by their uuid for the same reason; their names are
in :attr:`NovaView.groups`.

Loads. Nova does not measure what instances use. Measured loads come in as
``loads``, a mapping of server uuid to :class:`InstanceLoad` (or any object
or dict with its field names), supplied by the agents' metrics. A server
with no entry counts as idle on CPU and as using all its flavor memory
(``cpu_util`` 0, ``mem_used_mb`` = flavor RAM): idle CPU never creates a
hotspot that is not there, and full memory never hides one.

Servers that cannot be live-migrated now (not ACTIVE or PAUSED, or with a
task in progress) stay in the model, since they use their host's capacity,
but are marked ``opt_out`` so that no strategy moves them; the reason is in
:attr:`ServerInfo.pinned`. Servers without a host (building, shelved
offloaded, errored before scheduling) are left out.
"""

import dataclasses
import datetime
import math
import time

import numpy as np
from oslo_log import log as logging

from nova_drs.model import cluster
from nova_drs.model import snapshot

LOG = logging.getLogger(__name__)

VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'

#: Server statuses from which Nova live-migrates.
MIGRATABLE_STATUSES = ('ACTIVE', 'PAUSED')

#: Metadata values that mean "yes" (case-insensitive), as for snapshots.
TRUE_VALUES = ('1', 'true', 'yes', 'on')

#: Migration statuses after which the instance is on its new host.
MOVED_STATUSES = ('completed', 'done', 'finished', 'confirmed')

DEFAULT_ZONE = 'nova'


@dataclasses.dataclass
class InstanceLoad:
    """What one instance uses, measured by the agent on its host."""

    #: share of the instance's vCPUs busy, 0 to 1
    cpu_util: float = 0.0
    #: MiB of memory in use; None: the flavor's RAM
    mem_used_mb: float = None
    disk_mb_s: float = 0.0
    net_mb_s: float = 0.0
    #: MiB/s of memory dirtied (for the migration cost model)
    dirty_rate_mb_s: float = 0.0


@dataclasses.dataclass
class HostInfo:
    """Facts about a host that the model does not hold."""

    name: str
    hypervisor_hostname: str
    resource_provider: str
    service_status: str
    service_state: str
    forced_down: bool
    disabled_reason: str = None


@dataclasses.dataclass
class ServerInfo:
    """Facts about a server that the model does not hold."""

    id: str
    name: str
    host: str
    status: str
    task_state: str
    project_id: str
    flavor_name: str
    opt_out: bool
    #: why it may not be moved now, or None
    pinned: str = None


@dataclasses.dataclass
class NovaView:
    """The model plus what it was built from."""

    model: cluster.ClusterModel
    hosts: dict
    servers: dict
    #: server group uuid -> name
    groups: dict
    #: (kind, name, reason) for every host or server left out
    skipped: list
    #: wall clock time of the collection (seconds since the epoch)
    collected_at: float

    def to_snapshot(self):
        """The snapshot dict of the model (doc/snapshot-format.rst)."""
        return to_snapshot(self.model)


def to_snapshot(model):
    """A ClusterModel as a snapshot dict, for ``nova-drs plan``."""
    return snapshot.to_dict(model)


def _get(obj, key, default=None):
    """``obj[key]`` for a dict, ``obj.key`` for other objects."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        value = obj.get(key, default)
    else:
        value = getattr(obj, key, default)
    return default if value is None else value


def _truthy(value):
    return str(value).strip().lower() in TRUE_VALUES


def _parse_time(value):
    """A Nova timestamp (naive UTC, or with an offset) as epoch seconds."""
    if not value:
        return None
    text = str(value).replace('Z', '+00:00')
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


class NovaCollector(object):
    """Reads Nova and Placement into a :class:`NovaView`.

    :param conn: an :class:`openstack.connection.Connection` with the
        admin role (see :mod:`nova_drs.balancer.clients`)
    :param conf: the configuration (``[drs_balancer]`` is read)
    """

    def __init__(self, conn, conf, clock=time.time):
        self.conn = conn
        self.opt_out_key = conf.drs_balancer.opt_out_metadata_key
        self.cooldown_s = conf.drs_balancer.instance_cooldown
        self.clock = clock

    # -- hosts --

    def _services(self):
        services = {}
        for svc in self.conn.compute.services(binary='nova-compute'):
            if svc.host in services:
                LOG.warning('two nova-compute services on host %s; using '
                            'the first', svc.host)
                continue
            services[svc.host] = svc
        return services

    def _aggregates(self):
        """host -> aggregate names, host -> zone from aggregate metadata."""
        names, zones = {}, {}
        for agg in self.conn.compute.aggregates():
            zone = agg.availability_zone or _get(agg.metadata,
                                                 'availability_zone')
            for host in agg.hosts or ():
                names.setdefault(host, set()).add(agg.name)
                if zone:
                    zones[host] = zone
        return names, zones

    def _resource_providers(self):
        by_id, by_name = {}, {}
        for rp in self.conn.placement.resource_providers():
            by_id[rp.id] = rp
            by_name[rp.name] = rp
        return by_id, by_name

    def _inventories(self, rp_id):
        return {inv.resource_class: inv for inv in
                self.conn.placement.resource_provider_inventories(rp_id)}

    def _collect_hosts(self, skipped):
        services = self._services()
        agg_names, agg_zones = self._aggregates()
        rp_by_id, rp_by_name = self._resource_providers()
        rows = []
        infos = {}
        for hv in self.conn.compute.hypervisors(details=True):
            service = hv.service_details or {}
            host = service.get('host')
            node = hv.name
            if not host:
                skipped.append(('host', node, 'hypervisor has no service'))
                continue
            if host in infos:
                LOG.warning('host %s has several compute nodes (%s); only '
                            'the first is used', host, node)
                skipped.append(('host', node, 'second node of host %s'
                                % host))
                continue
            svc = services.get(host)
            if svc is None:
                skipped.append(('host', host, 'no nova-compute service'))
                continue
            rp = rp_by_id.get(hv.id) or rp_by_name.get(node)
            if rp is None:
                skipped.append(('host', host, 'no resource provider in '
                                'Placement (compute node not reported '
                                'yet?)'))
                continue
            inventories = self._inventories(rp.id)
            vcpu, mem = inventories.get(VCPU), inventories.get(MEMORY_MB)
            if vcpu is None or mem is None or not vcpu.total or \
                    not mem.total:
                skipped.append(('host', host, 'no VCPU or MEMORY_MB '
                                'inventory in Placement'))
                continue
            disabled = (svc.status == 'disabled' or bool(svc.is_forced_down)
                        or svc.state == 'down')
            reserved_cpus = vcpu.reserved or 0
            reserved_mem = mem.reserved or 0
            if reserved_cpus >= vcpu.total or reserved_mem >= mem.total:
                LOG.warning('host %s: everything is reserved in Placement; '
                            'marking it disabled', host)
                disabled = True
                reserved_cpus = min(reserved_cpus, vcpu.total - 1)
                reserved_mem = min(reserved_mem, mem.total - 1)
            zone = (svc.availability_zone or agg_zones.get(host)
                    or DEFAULT_ZONE)
            rows.append(dict(
                name=host, vcpus=vcpu.total, memory_mb=mem.total,
                reserved_host_cpus=reserved_cpus,
                reserved_host_memory_mb=reserved_mem,
                cpu_allocation_ratio=float(vcpu.allocation_ratio or 1.0),
                ram_allocation_ratio=float(mem.allocation_ratio or 1.0),
                zone=zone,
                aggregates=tuple(sorted(agg_names.get(host, ()))),
                disabled=disabled))
            infos[host] = HostInfo(
                name=host, hypervisor_hostname=node, resource_provider=rp.id,
                service_status=svc.status, service_state=svc.state,
                forced_down=bool(svc.is_forced_down),
                disabled_reason=svc.disabled_reason)
        rows.sort(key=lambda r: r['name'])
        return rows, infos

    # -- servers --

    def _flavor(self, server, cache):
        """(vcpus, ram, name) of a server's flavor."""
        flavor = server.flavor
        vcpus, ram = _get(flavor, 'vcpus'), _get(flavor, 'ram')
        name = _get(flavor, 'original_name') or _get(flavor, 'name')
        if vcpus and ram:
            return int(vcpus), int(ram), name
        # before microversion 2.47 the server only names its flavor
        flavor_id = _get(flavor, 'id')
        if flavor_id not in cache:
            cache[flavor_id] = self.conn.compute.get_flavor(flavor_id)
        full = cache[flavor_id]
        return int(full.vcpus), int(full.ram), full.name

    def _groups(self):
        """([ServerGroup], {uuid: name}, {server id: group index})."""
        groups, names, member_of = [], {}, {}
        for g in self.conn.compute.server_groups(all_projects=True):
            policy = g.policy or (g.policies or [None])[0]
            if policy not in cluster.SERVER_GROUP_POLICIES:
                LOG.warning('server group %s: unknown policy %r, ignored',
                            g.id, policy)
                continue
            rules = g.rules or {}
            try:
                per_host = max(1, int(rules.get('max_server_per_host', 1)))
            except (TypeError, ValueError):
                per_host = 1
            index = len(groups)
            groups.append(cluster.ServerGroup(g.id, policy, per_host))
            names[g.id] = g.name
            for member in g.member_ids or ():
                member_of[member] = index
        return groups, names, member_of

    def _last_moved(self, now):
        """server id -> epoch seconds of its latest completed move."""
        if not self.cooldown_s:
            return {}
        since = datetime.datetime.fromtimestamp(
            now - self.cooldown_s, datetime.timezone.utc)
        moved = {}
        for m in self.conn.compute.migrations(
                changes_since=since.strftime('%Y-%m-%dT%H:%M:%SZ')):
            if m.status not in MOVED_STATUSES:
                continue
            stamp = _parse_time(m.updated_at or m.created_at)
            if stamp is not None and stamp > moved.get(m.server_id, 0):
                moved[m.server_id] = stamp
        return moved

    @staticmethod
    def _pinned(server):
        if server.status not in MIGRATABLE_STATUSES:
            return 'status %s' % server.status
        if server.task_state:
            return 'task %s in progress' % server.task_state
        return None

    # -- the whole view --

    def collect(self, loads=None, host_capacities=None):
        """Read Nova and Placement; return a :class:`NovaView`.

        :param loads: server uuid -> :class:`InstanceLoad` (or an object or
            dict with its field names); missing servers count as idle on
            CPU with all their flavor memory in use
        :param host_capacities: optional host -> object or dict with
            ``disk_capacity_mb_s`` and ``net_capacity_mb_s``; hosts without
            one do not track disk and network load
        :raises openstack.exceptions.SDKException: Nova or Placement
            answered with an error (nothing partial is returned)
        :raises keystoneauth1.exceptions.ClientException: they could not be
            reached, or authentication failed
        """
        loads = loads or {}
        host_capacities = host_capacities or {}
        now = self.clock()
        skipped = []
        host_rows, host_infos = self._collect_hosts(skipped)
        host_index = {r['name']: n for n, r in enumerate(host_rows)}
        groups, group_names, member_of = self._groups()
        last_moved = self._last_moved(now)

        inst_rows, servers, flavors = [], {}, {}
        for server in self.conn.compute.servers(details=True,
                                                all_projects=True):
            host = server.compute_host
            if not host:
                skipped.append(('server', server.id, 'no host (status %s)'
                                % server.status))
                continue
            if host not in host_index:
                skipped.append(('server', server.id, 'on host %s, which is '
                                'not in the model' % host))
                continue
            vcpus, ram, flavor_name = self._flavor(server, flavors)
            opted_out = _truthy((server.metadata or {}).get(
                self.opt_out_key, ''))
            pinned = self._pinned(server)
            load = loads.get(server.id)
            cpu_util = min(max(float(_get(load, 'cpu_util', 0.0)), 0.0), 1.0)
            mem_used = float(_get(load, 'mem_used_mb', ram))
            moved = last_moved.get(server.id)
            inst_rows.append(dict(
                name=server.id, host=host_index[host], vcpus=vcpus,
                memory_mb=ram, cpu_util=cpu_util,
                mem_used_mb=min(max(mem_used, 0.0), float(ram)),
                disk_mb_s=max(float(_get(load, 'disk_mb_s', 0.0)), 0.0),
                net_mb_s=max(float(_get(load, 'net_mb_s', 0.0)), 0.0),
                dirty_rate_mb_s=max(
                    float(_get(load, 'dirty_rate_mb_s', 0.0)), 0.0),
                group=member_of.get(server.id, cluster.NO_GROUP),
                opt_out=opted_out or pinned is not None,
                last_migrated_s=(math.inf if moved is None
                                 else max(now - moved, 0.0))))
            servers[server.id] = ServerInfo(
                id=server.id, name=server.name, host=host,
                status=server.status, task_state=server.task_state,
                project_id=server.project_id, flavor_name=flavor_name,
                opt_out=opted_out, pinned=pinned)
        inst_rows.sort(key=lambda r: r['name'])

        model = _model(host_rows, inst_rows, groups, host_capacities)
        for kind, name, why in skipped:
            LOG.debug('left out %s %s: %s', kind, name, why)
        LOG.info('collected %d hosts, %d instances, %d server groups '
                 '(%d left out)', len(host_rows), len(inst_rows),
                 len(groups), len(skipped))
        return NovaView(model=model, hosts=host_infos, servers=servers,
                        groups=group_names, skipped=skipped,
                        collected_at=now)


def _model(host_rows, inst_rows, groups, host_capacities):
    zones, zone_index = [], {}
    agg_sets, agg_index = [], {}

    def code(values, index, value):
        if value not in index:
            index[value] = len(values)
            values.append(value)
        return index[value]

    zone_codes = [code(zones, zone_index, r['zone']) for r in host_rows]
    agg_codes = [code(agg_sets, agg_index, r['aggregates'])
                 for r in host_rows]

    def hcol(key, dtype):
        return np.array([r[key] for r in host_rows], dtype=dtype)

    def capacity(row, key):
        return max(float(_get(host_capacities.get(row['name']), key, 0.0)),
                   0.0)

    hosts = cluster.Hosts(
        names=[r['name'] for r in host_rows],
        vcpus=hcol('vcpus', np.int64),
        memory_mb=hcol('memory_mb', np.int64),
        reserved_host_cpus=hcol('reserved_host_cpus', np.int64),
        reserved_host_memory_mb=hcol('reserved_host_memory_mb', np.int64),
        cpu_allocation_ratio=hcol('cpu_allocation_ratio', float),
        ram_allocation_ratio=hcol('ram_allocation_ratio', float),
        availability_zone=np.array(zone_codes, dtype=np.int64),
        aggregates=np.array(agg_codes, dtype=np.int64),
        disabled=hcol('disabled', bool),
        disk_capacity_mb_s=np.array(
            [capacity(r, 'disk_capacity_mb_s') for r in host_rows],
            dtype=float),
        net_capacity_mb_s=np.array(
            [capacity(r, 'net_capacity_mb_s') for r in host_rows],
            dtype=float))

    def icol(key, dtype):
        return np.array([r[key] for r in inst_rows], dtype=dtype)

    instances = cluster.Instances(
        names=[r['name'] for r in inst_rows],
        host=icol('host', np.int64),
        vcpus=icol('vcpus', np.int64),
        memory_mb=icol('memory_mb', np.int64),
        cpu_util=icol('cpu_util', float),
        mem_used_mb=icol('mem_used_mb', float),
        disk_mb_s=icol('disk_mb_s', float),
        net_mb_s=icol('net_mb_s', float),
        dirty_rate_mb_s=icol('dirty_rate_mb_s', float),
        group=icol('group', np.int64),
        opt_out=icol('opt_out', bool),
        last_migrated_s=icol('last_migrated_s', float))
    return cluster.ClusterModel(hosts, instances, groups,
                                zones or [DEFAULT_ZONE], agg_sets or [()])


def collect(conn, conf, loads=None, host_capacities=None):
    """Shortcut: ``NovaCollector(conn, conf).collect(...)``."""
    return NovaCollector(conn, conf).collect(loads, host_capacities)
