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
  metadata, as JSON (:mod:`nova_drs.balancer.view.api_reads`: sdk
  resources cost too much CPU at region scale); the ``[drs_balancer]
  opt_out_metadata_key`` key opts a server out of automatic migration;
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

import collections
import dataclasses
import datetime
import math
import time

import numpy as np
from oslo_log import log as logging

from nova_drs.balancer.view import api_reads
from nova_drs.balancer.view import capacity as capacity_mod
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

#: the status Nova's API gives a deleted server (``changes-since`` lists
#: them)
DELETED = 'DELETED'

#: seconds by which an incremental read goes back before the newest change
#: seen: a change committed late, or stamped by a Nova service whose clock
#: is a little behind, is still listed (and read twice, harmlessly)
CHANGES_OVERLAP_S = 120.0

#: the instance notifications whose payload is trusted as the server's
#: current state. Not the others: ``instance.live_migration_post.end``,
#: for one, is sent by the source host with its stale copy of the
#: instance (still on the source, task ``migrating``) after the
#: destination's ``live_migration_post_dest.end``.
DELETE_EVENT = 'instance.delete.end'
LIVE_MIGRATION_END_EVENT = 'instance.live_migration_post_dest.end'
DELTA_EVENTS = frozenset((
    'instance.create.end', DELETE_EVENT, LIVE_MIGRATION_END_EVENT,
    # sent on every state change when notify_on_state_change is set, with
    # the instance just saved
    'instance.update'))

#: Nova's vm_state -> the status its API shows (without a task)
VM_STATE_STATUS = {
    'active': 'ACTIVE', 'building': 'BUILD', 'paused': 'PAUSED',
    'suspended': 'SUSPENDED', 'stopped': 'SHUTOFF', 'rescued': 'RESCUE',
    'resized': 'VERIFY_RESIZE', 'soft-delete': 'SOFT_DELETED',
    'deleted': DELETED, 'error': 'ERROR', 'shelved': 'SHELVED',
    'shelved_offloaded': 'SHELVED_OFFLOADED'}

#: the kinds of API calls counted per read (ReadStats.calls)
CALL_KINDS = ('services', 'aggregates', 'hypervisors', 'resource_providers',
              'inventories', 'server_groups', 'migrations', 'servers',
              'flavors')


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
        """The snapshot dict of the model (doc/source/snapshot-format.rst)."""
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


def _isotime(epoch):
    """Epoch seconds as the UTC timestamp Nova's filters take."""
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


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


@dataclasses.dataclass
class _Server:
    """What the collector keeps of one server between reads."""

    id: str
    name: str
    host: str
    status: str
    task_state: str
    project_id: str
    vcpus: int
    ram: int
    flavor_name: str
    metadata: dict
    #: when Nova last changed it (seconds since the epoch, Nova's clock:
    #: the API's ``updated``, or the notification's timestamp), or None
    updated: float = None


@dataclasses.dataclass
class ReadStats:
    """What one read of Nova and Placement cost."""

    #: ``full`` or ``incremental``
    kind: str
    #: API call kind -> calls (see :data:`CALL_KINDS`)
    calls: dict
    duration_s: float
    #: servers the read returned (all of them, or the changed ones)
    servers_read: int
    #: resource providers whose inventories were read (generation changed)
    inventories_read: int
    #: hosts whose capacity came from another replica's host states
    #: (:meth:`NovaCollector.set_partial`), not from Placement
    inventories_shared: int = 0

    @property
    def total(self):
        return sum(self.calls.values())

    def as_dict(self):
        return {'kind': self.kind, 'calls': dict(self.calls),
                'total_calls': self.total,
                'duration_s': round(self.duration_s, 3),
                'servers_read': self.servers_read,
                'inventories_read': self.inventories_read,
                'inventories_shared': self.inventories_shared}


class NovaCollector(object):
    """Reads Nova and Placement into a :class:`NovaView`, incrementally.

    :meth:`collect` reads everything. The balancer instead keeps one
    collector and calls :meth:`read`: the first read and every
    ``full=True`` read are complete; the others (*incremental*) list only
    what changed, with a number of calls that does not depend on the
    number of compute nodes or servers:

    * Placement: ``GET /resource_providers`` lists every provider with its
      generation, which Placement increments on every change of the
      provider's inventories (and of its allocations); the inventories of
      a provider are read (``GET /resource_providers/{uuid}/inventories``)
      only when its generation differs from the one of the inventories
      kept. Placement has no call that returns the inventories of several
      providers (``/allocation_candidates`` summarises capacities without
      ``reserved`` and ``allocation_ratio`` and leaves full providers out;
      ``/usages`` sums per project), so this is the bulk form: one call,
      plus one per provider that changed.
    * servers: ``GET /servers/detail?changes-since=`` from the newest
      ``updated`` time seen, less :data:`CHANGES_OVERLAP_S`; deleted
      servers come back with status ``DELETED`` and are removed;
    * flavors (only for servers that do not embed theirs, before compute
      microversion 2.47) are kept by id;
    * recent migrations: ``changes-since`` the previous read.

    Services, hypervisors, aggregates and server groups are listed at
    every read (one call each per page of results).

    Partial reads (:meth:`set_partial`): with several replicas, each reads
    the inventories of the hosts it owns only, on full reads too, and
    takes the others' capacities from what their owners shared
    (:mod:`nova_drs.balancer.view.capacity`); a host without a recent
    shared capacity is read here, and a host that becomes owned is read
    at the next read, full or not.

    Between reads :meth:`apply_events` applies Nova's instance
    notifications to the servers kept (:data:`DELTA_EVENTS`).

    :param conn: an :class:`openstack.connection.Connection` with the
        admin role (see :mod:`nova_drs.balancer.clients`)
    :param conf: the configuration (``[drs_balancer]`` is read)
    :param clock: wall clock, seconds since the epoch
    """

    def __init__(self, conn, conf, clock=time.time):
        self.conn = conn
        self.opt_out_key = conf.drs_balancer.opt_out_metadata_key
        self.cooldown_s = conf.drs_balancer.instance_cooldown
        #: Placement requests in flight at once while inventories are read
        self.read_concurrency = conf.drs_balancer.placement_read_concurrency
        self.clock = clock
        #: API call kind -> calls, of the read in progress or the last one
        self.calls = collections.Counter()
        #: :class:`ReadStats` of the last read (None before the first)
        self.last_read = None
        #: events applied, and events that needed a read instead
        self.deltas_applied = 0
        self.deltas_refused = 0
        self._providers = {}         # rp uuid -> (generation, {rc: inv})
        self._nodes = None           # (services and providers, nodes)
        self._flavors = {}           # flavor id -> (vcpus, ram, name)
        self._servers = None         # server id -> _Server
        self._deleted = {}           # server id -> when it was deleted
        self._servers_mark = None    # newest `updated` seen (Nova's clock)
        self._moved = {}             # server id -> latest move (epoch)
        self._migrations_read_at = None
        self._hosts = None           # (rows, infos, skipped) of last read
        self._groups = None          # (groups, names, member_of)
        self._read_at = None
        self._full_read_at = None    # wall time the last full read began
        self.inventories_read = 0
        #: hosts with several compute nodes, warned about
        self._multi_node_hosts = set()
        #: hosts whose capacity came from shared host states (last read)
        self.inventories_shared = 0
        self._own_capacities = {}    # host -> Capacity read here
        self._owns = None            # set_partial
        self._shared = None

    def _call(self, kind):
        self.calls[kind] += 1

    # -- hosts --

    def _services(self):
        services = {}
        self._call('services')
        for svc in api_reads.list_services(self.conn.compute):
            if svc.host in services:
                LOG.warning('two nova-compute services on host %s; using '
                            'the first', svc.host)
                continue
            services[svc.host] = svc
        return services

    def _aggregates(self):
        """host -> aggregate names, host -> zone from aggregate metadata."""
        names, zones = {}, {}
        self._call('aggregates')
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
        self._call('resource_providers')
        for rp in api_reads.list_providers(self.conn.placement):
            by_id[rp.id] = rp
            by_name[rp.name] = rp
        return by_id, by_name

    def _inventories(self, rp):
        """{resource class: inventory} of a provider, as last read."""
        return self._providers.get(rp.id, (None, {}))[1]

    def _read_inventories(self, providers, full):
        """Read the inventories of the providers that changed (or all).

        A provider whose generation is the one of its last read is not
        read again. Placement has no bulk request for inventories, so a
        full read of a large region makes one request per provider: they
        go ``[drs_balancer] placement_read_concurrency`` at a time
        (:func:`.api_reads.providers_inventories`), each as JSON. A
        provider deleted since the listing (404) is forgotten: its host
        is left out of this view, as it would be had the listing come
        later. Any other error ends the read.
        """
        wanted = []
        for rp in providers:
            generation = getattr(rp, 'generation', None)
            kept = self._providers.get(rp.id)
            if full or kept is None or generation is None \
                    or kept[0] != generation:
                wanted.append(rp)
        if not wanted:
            return
        # NOTE: the proxy is taken here, not in the readers' threads:
        # the connection builds it on first use
        results = api_reads.providers_inventories(
            self.conn.placement, [rp.id for rp in wanted],
            self.read_concurrency)
        # counted here, in this thread, not by the readers
        for rp, listed in zip(wanted, results):
            self._call('inventories')
            if listed is None:
                LOG.warning('resource provider %s (%s) was deleted during '
                            'the read; its host is left out', rp.id,
                            getattr(rp, 'name', None))
                self._providers.pop(rp.id, None)
                continue
            self.inventories_read += 1
            generation = getattr(rp, 'generation', None)
            inventories = {}
            for inv in listed:
                inventories[inv.resource_class] = inv
                # NOTE: the generation of the inventories read, which is
                # newer than the listed one when the provider changed in
                # between
                generation = inv.resource_provider_generation or generation
            self._providers[rp.id] = (generation, inventories)

    def _compute_nodes(self, full, services, rp_by_id):
        """[(service host, node name, compute node id)] of the hypervisors.

        Listed (``/os-hypervisors/detail``, one call per thousand nodes)
        on a full read, and on an incremental one only when the compute
        services or the resource providers changed: a compute node comes
        and goes with its service and its provider, so otherwise the
        last listing still holds, and an incremental read of a large
        region costs the same few calls whatever its size.
        """
        key = (frozenset((h, getattr(s, 'id', None))
                         for h, s in services.items()),
               frozenset(rp_by_id))
        if not full and self._nodes is not None and self._nodes[0] == key:
            return self._nodes[1]
        nodes = []
        for hv in api_reads.list_hypervisors(
                self.conn.compute, on_page=lambda: self._call('hypervisors')):
            service = hv.service_details or {}
            nodes.append((service.get('host'), hv.name, hv.id))
        self._nodes = (key, nodes)
        return nodes

    def _collect_hosts(self, full):
        skipped = []
        services = self._services()
        agg_names, agg_zones = self._aggregates()
        rp_by_id, rp_by_name = self._resource_providers()
        # the compute node of each host, and its provider: the view uses
        # nothing else of Placement
        picked = []
        seen = {}                    # host -> the node used
        further = {}                 # host -> compute nodes set aside
        for host, node, hv_id in self._compute_nodes(full, services,
                                                     rp_by_id):
            if not host:
                skipped.append(('host', node, 'hypervisor has no service'))
                continue
            if host in seen:
                further[host] = further.get(host, 0) + 1
                skipped.append(('host', node, 'second node of host %s'
                                % host))
                continue
            svc = services.get(host)
            if svc is None:
                skipped.append(('host', host, 'no nova-compute service'))
                continue
            rp = rp_by_id.get(hv_id) or rp_by_name.get(node)
            if rp is None:
                skipped.append(('host', host, 'no resource provider in '
                                'Placement (compute node not reported '
                                'yet?)'))
                continue
            seen[host] = node
            picked.append((host, node, svc, rp))
        for host, count in further.items():
            # once per host (a multi-node compute has them at every read)
            if host not in self._multi_node_hosts:
                self._multi_node_hosts.add(host)
                LOG.warning('host %s has %d compute nodes; only one, %s, '
                            'is used', host, count + 1, seen[host])
        # NOTE: only these providers' inventories are read and kept, not
        # every provider's: a region's other providers (the further nodes
        # of a multi-node compute such as Ironic's, nested providers of
        # devices and bandwidth, sharing providers) would cost a request
        # each on a full read, and again whenever their generation moves
        # with their allocations, for nothing the view uses
        # partial reads: the hosts another replica owns, from the
        # capacity it shared, when recent enough (module capacity)
        from_shared = self._shared_capacities(picked)
        mine = [p for p in picked if p[0] not in from_shared]
        used = {rp.id for _, _, _, rp in mine}
        for rp_id in set(self._providers) - used:
            # NOTE: forgotten, so that a host owned again (or whose
            # shared capacity went stale) is read in full at once
            del self._providers[rp_id]
        self._read_inventories([rp for _, _, _, rp in mine], full)
        self.inventories_shared = len(from_shared)
        rows = []
        infos = {}
        own = {}
        for host, node, svc, rp in picked:
            cap = from_shared.get(host)
            if cap is None:
                cap = self._capacity(rp)
                if cap is not None:
                    own[host] = cap
            if cap is None:
                skipped.append(('host', host, 'no VCPU or MEMORY_MB '
                                'inventory in Placement'))
                continue
            disabled = (svc.status == 'disabled' or bool(svc.is_forced_down)
                        or svc.state == 'down')
            reserved_cpus = cap.reserved_host_cpus
            reserved_mem = cap.reserved_host_memory_mb
            if reserved_cpus >= cap.vcpus or reserved_mem >= cap.memory_mb:
                LOG.warning('host %s: everything is reserved in Placement; '
                            'marking it disabled', host)
                disabled = True
                reserved_cpus = min(reserved_cpus, cap.vcpus - 1)
                reserved_mem = min(reserved_mem, cap.memory_mb - 1)
            zone = (svc.availability_zone or agg_zones.get(host)
                    or DEFAULT_ZONE)
            rows.append(dict(
                name=host, vcpus=cap.vcpus, memory_mb=cap.memory_mb,
                reserved_host_cpus=reserved_cpus,
                reserved_host_memory_mb=reserved_mem,
                cpu_allocation_ratio=cap.cpu_allocation_ratio,
                ram_allocation_ratio=cap.ram_allocation_ratio,
                zone=zone,
                aggregates=tuple(sorted(agg_names.get(host, ()))),
                disabled=disabled))
            infos[host] = HostInfo(
                name=host, hypervisor_hostname=node, resource_provider=rp.id,
                service_status=svc.status, service_state=svc.state,
                forced_down=bool(svc.is_forced_down),
                disabled_reason=svc.disabled_reason)
        rows.sort(key=lambda r: r['name'])
        return rows, infos, skipped, own

    def _capacity(self, rp):
        """The Capacity of a provider's inventories as read, or None."""
        inventories = self._inventories(rp)
        vcpu, mem = inventories.get(VCPU), inventories.get(MEMORY_MB)
        if vcpu is None or mem is None or not vcpu.total or not mem.total:
            return None
        return capacity_mod.Capacity(
            provider=rp.id, vcpus=vcpu.total, memory_mb=mem.total,
            reserved_host_cpus=vcpu.reserved or 0,
            reserved_host_memory_mb=mem.reserved or 0,
            cpu_allocation_ratio=float(vcpu.allocation_ratio or 1.0),
            ram_allocation_ratio=float(mem.allocation_ratio or 1.0))

    def _shared_capacities(self, picked):
        """host -> shared Capacity, for the hosts not read here.

        A host this replica owns is always read here, and so is one
        whose shared capacity is missing, too old (the ``shared``
        callable filters by age) or about another resource provider.
        """
        if self._owns is None:
            return {}
        hosts = [host for host, _, _, _ in picked]
        owned = set(self._owns(hosts))
        shared = self._shared() or {}
        out = {}
        for host, _, _, rp in picked:
            cap = shared.get(host)
            if host not in owned and cap is not None and \
                    cap.provider == rp.id:
                out[host] = cap
        return out

    def set_partial(self, owns, shared):
        """Read in full only the hosts this replica owns.

        :param owns: ``owns(hosts)``: the hosts of ``hosts`` this replica
            owns (a set), e.g. ``Coordinator.owned_hosts``
        :param shared: ``shared()``: host -> shared
            :class:`~nova_drs.balancer.view.capacity.Capacity` of the
            hosts other replicas read, recent enough to use
            (:func:`nova_drs.balancer.view.capacity.from_rows`)

        The inventories of the other hosts are read only when no such
        capacity is shared for them. ``None`` for both: every host is
        read (the default).
        """
        self._owns = owns
        self._shared = shared

    def own_capacities(self):
        """host -> Capacity of the hosts whose inventories were read here.

        For the host states this replica writes (the ``capacity`` its
        peers use): each with ``age_s`` the seconds since the read that
        last confirmed it (every read lists the providers' generations,
        and reads again those that changed). Hosts taken from shared
        capacities are not in it: a replica shares what it read only.
        """
        if self._read_at is None:
            return {}
        age = max(self.clock() - self._read_at, 0.0)
        return {host: dataclasses.replace(cap, age_s=age)
                for host, cap in self._own_capacities.items()}

    # -- servers --

    def _flavor(self, server):
        """(vcpus, ram, name) of a server's flavor."""
        flavor = server.flavor
        vcpus, ram = _get(flavor, 'vcpus'), _get(flavor, 'ram')
        name = _get(flavor, 'original_name') or _get(flavor, 'name')
        if vcpus and ram:
            return int(vcpus), int(ram), name
        # before microversion 2.47 the server only names its flavor; a
        # flavor's sizes never change (Nova has no flavor update), so the
        # answer is kept for good
        flavor_id = _get(flavor, 'id')
        if flavor_id not in self._flavors:
            self._call('flavors')
            full = self.conn.compute.get_flavor(flavor_id)
            self._flavors[flavor_id] = (int(full.vcpus), int(full.ram),
                                        full.name)
        return self._flavors[flavor_id]

    def _server_record(self, server):
        vcpus, ram, flavor_name = self._flavor(server)
        return _Server(
            id=server.id, name=server.name, host=server.compute_host,
            status=server.status, task_state=server.task_state,
            project_id=server.project_id, vcpus=vcpus, ram=ram,
            flavor_name=flavor_name, metadata=dict(server.metadata or {}),
            updated=_parse_time(getattr(server, 'updated_at', None)))

    def _read_servers(self, full, now):
        if full or self._servers is None:
            servers, mark = {}, None
            for server in api_reads.list_servers(
                    self.conn.compute,
                    on_page=lambda: self._call('servers')):
                record = self._server_record(server)
                servers[record.id] = record
                if record.updated is not None:
                    mark = max(mark or record.updated, record.updated)
            self._servers, self._deleted = servers, {}
            # no server stamped: the balancer's clock, within the overlap
            self._servers_mark = mark if mark is not None else now
            return len(servers)
        since = self._servers_mark - CHANGES_OVERLAP_S
        # NOTE: the whole listing first: a listing that fails half-way
        # must not move the mark past servers it did not return
        changed = list(api_reads.list_servers(
            self.conn.compute, changes_since=_isotime(since),
            on_page=lambda: self._call('servers')))
        mark = self._servers_mark
        for server in changed:
            updated = _parse_time(getattr(server, 'updated_at', None))
            if updated is not None:
                mark = max(mark, updated)
            if server.status == DELETED:
                self._forget(server.id, updated)
            else:
                self._keep(self._server_record(server))
        self._servers_mark = mark
        return len(changed)

    def _keep(self, record):
        """Store a server unless what is stored is newer."""
        deleted = self._deleted.get(record.id)
        if deleted is not None and (record.updated is None
                                    or record.updated <= deleted):
            return False
        known = self._servers.get(record.id)
        if known is not None and known.updated is not None and \
                record.updated is not None and \
                record.updated < known.updated:
            return False
        self._deleted.pop(record.id, None)
        self._servers[record.id] = record
        return True

    def _forget(self, server_id, when):
        self._servers.pop(server_id, None)
        self._deleted[server_id] = when if when is not None else math.inf

    def _groups_read(self):
        """([ServerGroup], {uuid: name}, {server id: group index})."""
        groups, names, member_of = [], {}, {}
        self._call('server_groups')
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

    def _read_migrations(self, now, full):
        """Update server id -> epoch seconds of its latest completed move."""
        if not self.cooldown_s:
            self._moved = {}
            return
        oldest = now - self.cooldown_s
        if full or self._migrations_read_at is None:
            since, moved = oldest, {}
        else:
            since = max(oldest, self._migrations_read_at - CHANGES_OVERLAP_S)
            moved = dict(self._moved)
        self._call('migrations')
        for m in self.conn.compute.migrations(changes_since=_isotime(since)):
            if m.status not in MOVED_STATUSES:
                continue
            stamp = _parse_time(m.updated_at or m.created_at)
            if stamp is not None and stamp > moved.get(m.server_id, 0):
                moved[m.server_id] = stamp
        self._moved = {k: v for k, v in moved.items() if v >= oldest}
        self._migrations_read_at = now

    @staticmethod
    def _pinned(server):
        if server.status not in MIGRATABLE_STATUSES:
            return 'status %s' % server.status
        if server.task_state:
            return 'task %s in progress' % server.task_state
        return None

    # -- reads --

    def _read(self, full):
        started = time.monotonic()
        now = self.clock()
        full = full or self._servers is None
        if full:
            self._full_read_at = now
        self.calls = collections.Counter()
        self.inventories_read = 0
        self.inventories_shared = 0
        rows, infos, skipped, own = self._collect_hosts(full)
        groups = self._groups_read()
        self._read_migrations(now, full)
        servers_read = self._read_servers(full, now)
        # only now: a failed read changes nothing of the view
        self._hosts = (rows, infos, skipped)
        self._own_capacities = own
        self._groups = groups
        self._read_at = now
        self.last_read = ReadStats(
            kind='full' if full else 'incremental', calls=dict(self.calls),
            duration_s=time.monotonic() - started, servers_read=servers_read,
            inventories_read=self.inventories_read,
            inventories_shared=self.inventories_shared)

    def read(self, full=False):
        """Read Nova and Placement (all of it when ``full``); the view.

        :raises openstack.exceptions.SDKException: Nova or Placement
            answered with an error
        :raises keystoneauth1.exceptions.ClientException: they could not be
            reached, or authentication failed
        """
        self._read(full)
        view = self.build()
        self._log(view)
        return view

    def collect(self, loads=None, host_capacities=None):
        """Read all of Nova and Placement; return a :class:`NovaView`.

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
        self._read(full=True)
        view = self.build(loads, host_capacities)
        self._log(view)
        return view

    def _log(self, view):
        stats = self.last_read
        LOG.info('read Nova (%s): %d hosts, %d instances, %d server groups '
                 '(%d left out); %d API calls (%s), %d servers and %d '
                 'providers\' inventories read, %d hosts\' capacity shared '
                 'by other replicas, in %.2f s', stats.kind,
                 len(view.model.hosts), len(view.model.instances),
                 len(view.model.groups), len(view.skipped), stats.total,
                 ', '.join('%s %d' % kv for kv in sorted(stats.calls.items())),
                 stats.servers_read, stats.inventories_read,
                 stats.inventories_shared, stats.duration_s)

    # -- notifications --

    def apply_events(self, events):
        """Apply Nova notifications to the servers kept; the rest.

        :param events: :class:`nova_drs.balancer.intake.nova_events.NovaEvent`
        :returns: the events that could not be applied (their change is
            only seen at the next read): those of :data:`DELTA_EVENTS`
            whose payload lacks a field, and every other kind of event.
            Before the first read nothing is kept and all are returned.
        """
        if self._servers is None:
            return list(events)
        rest = []
        for event in events:
            facts = getattr(event, 'server', None)
            if event.event_type not in DELTA_EVENTS or (
                    facts is None and event.event_type != DELETE_EVENT) or \
                    event.timestamp < self._full_read_at:
                # NOTE: a notification older than the last full read may
                # be about a server deleted before it, which no tombstone
                # remembers: read instead
                rest.append(event)
                continue
            self.deltas_applied += 1
            if event.event_type == DELETE_EVENT or \
                    facts.vm_state == 'deleted':
                self._forget(event.instance, event.timestamp)
                continue
            if event.event_type == LIVE_MIGRATION_END_EVENT and \
                    facts.host:
                self._moved[event.instance] = max(
                    event.timestamp, self._moved.get(event.instance, 0))
            self._keep(_Server(
                id=event.instance, name=facts.name, host=facts.host,
                status=VM_STATE_STATUS.get(facts.vm_state,
                                           facts.vm_state.upper()),
                task_state=facts.task_state, project_id=facts.project_id,
                vcpus=facts.vcpus, ram=facts.ram_mb,
                flavor_name=facts.flavor_name,
                metadata=dict(facts.metadata), updated=event.timestamp))
        self.deltas_refused += len(rest)
        return rest

    # -- the view --

    def build(self, loads=None, host_capacities=None):
        """The :class:`NovaView` of what was read and applied.

        :param loads: see :meth:`collect`
        :param host_capacities: see :meth:`collect`
        :raises RuntimeError: nothing was read yet
        """
        if self._hosts is None:
            raise RuntimeError('Nova was not read yet')
        loads = loads or {}
        host_capacities = host_capacities or {}
        now = self.clock()
        host_rows, host_infos, host_skipped = self._hosts
        skipped = list(host_skipped)
        host_index = {r['name']: n for n, r in enumerate(host_rows)}
        groups, group_names, member_of = self._groups

        inst_rows, servers = [], {}
        for server in self._servers.values():
            host = server.host
            if not host:
                skipped.append(('server', server.id, 'no host (status %s)'
                                % server.status))
                continue
            if host not in host_index:
                skipped.append(('server', server.id, 'on host %s, which is '
                                'not in the model' % host))
                continue
            vcpus, ram = server.vcpus, server.ram
            opted_out = _truthy(server.metadata.get(self.opt_out_key, ''))
            pinned = self._pinned(server)
            load = loads.get(server.id)
            cpu_util = min(max(float(_get(load, 'cpu_util', 0.0)), 0.0), 1.0)
            mem_used = float(_get(load, 'mem_used_mb', ram))
            moved = self._moved.get(server.id)
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
                project_id=server.project_id,
                flavor_name=server.flavor_name,
                opt_out=opted_out, pinned=pinned)
        inst_rows.sort(key=lambda r: r['name'])

        model = _model(host_rows, inst_rows, groups, host_capacities)
        for kind, name, why in skipped:
            LOG.debug('left out %s %s: %s', kind, name, why)
        return NovaView(model=model, hosts=dict(host_infos), servers=servers,
                        groups=dict(group_names), skipped=skipped,
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
