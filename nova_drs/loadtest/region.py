# SPDX-License-Identifier: Apache-2.0
"""A generated compute region: what Nova and Placement know, at scale.

The load test runs real balancers against a region of 10,000 and more
compute hosts, which no real Nova can provide on the test machine. This
module holds such a region in memory, generated from a seed (the same
arguments give the same hosts, uuids and placements in every process),
and changes it the way Nova and Placement would: a live migration is
checked as Nova's scheduler checks an unforced destination, holds the
destination's resources while it runs, and moves the server when it
completes. :mod:`nova_drs.loadtest.nova_api` serves it behind Nova's and
Placement's HTTP APIs. It is a scale double, not a Nova: the functional
tests keep proving the balancer against the real Nova lab.

Model, as Nova has it:

* one nova-compute service, compute node and resource provider per host;
  host name == hypervisor hostname == provider name; hypervisor id ==
  provider uuid (as compute node uuids are);
* Placement inventories VCPU, MEMORY_MB (512 MiB reserved, Nova's
  default ``reserved_host_memory_mb``) and DISK_GB with the region's
  allocation ratios; usages are the allocations of the servers on the host
  plus those of live migrations on their way to it; a provider's
  generation is bumped on every allocation change (Placement does);
* one availability zone per block of hosts (``az-1``, ``az-2``...), each
  an aggregate with ``availability_zone`` metadata;
* servers with a flavor (its sizes embedded in the server, compute
  microversion 2.47 and later), none pinned to a zone; a few
  anti-affinity server groups of 2 or 3 servers on distinct hosts.

Time comes from ``clock`` (epoch seconds; tests pass their own): a live
migration is ``running`` for ``migration_seconds`` and then
``completed``. Nothing runs in the background: every call first applies
what is due (:meth:`Region.advance`). The stamps Nova shows (``updated``,
``changes-since``) never go backwards, even when ``clock`` does.

Every live-migration request is recorded (:attr:`Region.requests`), with
the label of the client that sent it, for the load test's measurements.
All methods are thread-safe (one lock: the region is a shared database).
"""

import bisect
import collections
import dataclasses
import heapq
import random
import threading
import time
import uuid

HOST_FORMAT = 'lt-%05d'
ZONE_FORMAT = 'az-%d'
SERVER_FORMAT = 'lt-vm-%07d'

#: (id, name, vCPUs, MiB, GB of disk): the flavors servers are built from
FLAVORS = (('1', 'lt.tiny', 1, 2048, 10),
           ('2', 'lt.small', 2, 4096, 20),
           ('3', 'lt.medium', 4, 8192, 40),
           ('4', 'lt.large', 8, 16384, 80))
#: how often each flavor is drawn (same order)
FLAVOR_WEIGHTS = (4, 3, 2, 1)

#: Nova's default ``reserved_host_memory_mb``
RESERVED_HOST_MEMORY_MB = 512
#: disk of a host (GB): ample, so that disk never decides
HOST_DISK_GB = 4096
#: projects the servers belong to
PROJECTS = 8
#: share of the servers in anti-affinity groups (when not given)
GROUPED_SHARE = 0.01
#: seconds between the creations of two generated servers
CREATION_SPACING_S = 60.0
#: Nova's image of every server (it never matters here)
IMAGE_ID = '70a599e0-31e7-49b7-b260-868f441e862b'

VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'
DISK_GB = 'DISK_GB'

LIVE_MIGRATION = 'live-migration'
MIGRATING = 'migrating'
#: live-migration statuses in which it holds the destination's resources
IN_PROGRESS = frozenset(('accepted', 'queued', 'preparing', 'running',
                         'post-migrating'))

#: vm_state -> the status Nova's API shows (no task)
VM_STATUS = {'active': 'ACTIVE', 'paused': 'PAUSED', 'stopped': 'SHUTOFF',
             'error': 'ERROR', 'deleted': 'DELETED'}
#: vm_states Nova live-migrates from
MIGRATABLE_VM_STATES = ('active', 'paused')

#: what Nova's scheduler says when no host passes its filters
NO_VALID_HOST = ('No valid host was found. There are not enough hosts '
                 'available.')


class RegionError(Exception):
    """A request Nova refuses; :attr:`code` is the HTTP status it answers.

    ``reason`` says, for the load test, why (Nova's message does not).
    """

    code = 400

    def __init__(self, message, code=None, reason=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.reason = reason or message


class NotFound(RegionError):
    code = 404


class BadRequest(RegionError):
    code = 400


class Conflict(RegionError):
    code = 409


@dataclasses.dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int

    def amounts(self):
        return {VCPU: self.vcpus, MEMORY_MB: self.ram, DISK_GB: self.disk}


@dataclasses.dataclass(eq=False)
class Host:
    """A compute host: its service, compute node and resource provider."""

    index: int
    name: str
    zone: str
    rp_uuid: str
    service_id: str
    host_ip: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    cpu_ratio: float
    ram_ratio: float
    disk_ratio: float = 1.0
    reserved_memory_mb: int = RESERVED_HOST_MEMORY_MB
    #: Placement usages (servers here, and migrations on their way here)
    used: dict = dataclasses.field(
        default_factory=lambda: {VCPU: 0, MEMORY_MB: 0, DISK_GB: 0})
    #: the resource provider's generation
    generation: int = 1
    #: nova-compute service: ``enabled`` or ``disabled``
    status: str = 'enabled'
    disabled_reason: str = None
    forced_down: bool = False
    service_updated: float = 0.0
    #: ids of the servers whose host this is
    servers: set = dataclasses.field(default_factory=set)

    @property
    def state(self):
        return 'down' if self.forced_down else 'up'

    def inventories(self):
        """{resource class: Placement inventory record}."""
        return {
            VCPU: {'total': self.vcpus, 'reserved': 0, 'min_unit': 1,
                   'max_unit': self.vcpus, 'step_size': 1,
                   'allocation_ratio': self.cpu_ratio},
            MEMORY_MB: {'total': self.memory_mb,
                        'reserved': self.reserved_memory_mb, 'min_unit': 1,
                        'max_unit': self.memory_mb, 'step_size': 1,
                        'allocation_ratio': self.ram_ratio},
            DISK_GB: {'total': self.disk_gb, 'reserved': 0, 'min_unit': 1,
                      'max_unit': self.disk_gb, 'step_size': 1,
                      'allocation_ratio': self.disk_ratio}}

    def free(self, rc):
        """What Placement would still allocate of ``rc``."""
        inv = self.inventories()[rc]
        capacity = int((inv['total'] - inv['reserved'])
                       * inv['allocation_ratio'])
        return capacity - self.used[rc]

    def fits(self, flavor):
        """Would Placement allocate ``flavor`` here?"""
        inventories = self.inventories()
        for rc, amount in flavor.amounts().items():
            if amount > inventories[rc]['max_unit'] or \
                    amount > self.free(rc):
                return False
        return True

    def allocate(self, flavor, sign=1):
        for rc, amount in flavor.amounts().items():
            self.used[rc] += sign * amount
        self.generation += 1


@dataclasses.dataclass(eq=False)
class Server:
    id: str
    name: str
    #: creation order (Nova lists the newest first)
    index: int
    flavor: Flavor
    host: str
    zone: str
    project_id: str
    user_id: str
    created: float
    updated: float
    vm_state: str = 'active'
    task_state: str = None
    power_state: int = 1
    metadata: dict = dataclasses.field(default_factory=dict)
    #: server group uuid, or None
    group: str = None
    deleted: bool = False
    #: the live migration in progress, or None
    migration: object = None
    #: bumped on every change (caches of its JSON are keyed on it)
    rev: int = 0

    @property
    def status(self):
        if self.deleted:
            return 'DELETED'
        if self.task_state == MIGRATING:
            return 'MIGRATING'
        return VM_STATUS.get(self.vm_state, self.vm_state.upper())


@dataclasses.dataclass(eq=False)
class ServerGroup:
    id: str
    name: str
    policy: str
    project_id: str
    user_id: str
    members: list = dataclasses.field(default_factory=list)
    rules: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False)
class Aggregate:
    id: int
    uuid: str
    name: str
    zone: str
    created: float
    hosts: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class Migration:
    id: int
    uuid: str
    server_id: str
    source: str
    #: None until a destination is chosen (an unforced request refused)
    dest: str
    status: str
    created: float
    updated: float
    flavor_id: str
    project_id: str
    user_id: str
    #: when a running migration completes (region clock)
    due: float = None
    migration_type: str = LIVE_MIGRATION


@dataclasses.dataclass(eq=False)
class Action:
    """An instance action (``os-instance-actions``) and its events."""

    request_id: str
    server_id: str
    action: str
    start: float
    updated: float
    project_id: str
    user_id: str
    message: str = None
    #: dicts: event, start, finish, result, host, details
    events: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class MigrationRequest:
    """One live-migration request, as the load test measures it."""

    #: wall clock (time.time()) when it was received
    wall: float
    #: region clock when it was received
    at: float
    #: the label of the client that sent it (the URL's first part)
    client: str
    server: str
    #: the server's host when it was asked (None: unknown server)
    source: str
    #: the host asked for (None: Nova's scheduler chooses)
    target: str
    #: Nova started a migration (False: refused, or failed its checks)
    accepted: bool
    #: the HTTP status answered
    http_status: int
    #: Nova's message when refused
    error: str = None
    #: why, in the double's words (Nova's message does not say)
    reason: str = None
    migration_id: int = None
    #: the chosen destination
    dest: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Region:
    """A region's compute hosts, servers and migrations.

    Build one with :meth:`generate`. Attributes (read them under
    :attr:`lock` while the region is served): ``hosts`` (list of
    :class:`Host`), ``host_by_name``, ``servers`` (id -> :class:`Server`,
    deleted ones included), ``flavors``, ``groups``, ``aggregates``,
    ``migrations`` (list, by id), ``requests`` (list of
    :class:`MigrationRequest`).

    :param clock: epoch seconds (tests pass a fake clock)
    :param migration_seconds: how long a live migration runs
    :param seed: seeds the uuids of what is created later
    """

    #: the region's service account (the admin who migrates)
    ADMIN_USER = 'admin'

    def __init__(self, clock=time.time, migration_seconds=2.0, seed=1):
        self.lock = threading.RLock()
        self.clock = clock
        self.migration_seconds = float(migration_seconds)
        self.hosts = []
        self.host_by_name = {}
        self.flavors = {}
        self.servers = {}
        self.groups = []
        self.group_by_id = {}
        self.aggregates = []
        self.migrations = []
        self.actions = collections.defaultdict(list)
        self.requests = []
        self.projects = []
        self.generated_at = None
        self._order = []            # server ids by creation
        self._server_migrations = collections.defaultdict(list)
        self._running = []          # heap of (due, migration id)
        self._changes = []          # (stamp, server id), by stamp
        self._initial = []          # generation stamps, by server index
        self._changed_cache = None
        self._stamp = 0.0
        self._by_rp = {}
        self._last_reason = None
        # uuids of what is created after generation
        self._rng = random.Random('%s-runtime' % seed)  # nosec B311

    # -- generation --

    @classmethod
    def generate(cls, hosts, instances_per_host=8, seed=1, zones=2,
                 host_vcpus=32, host_memory_mb=262144, cpu_ratio=4.0,
                 ram_ratio=1.5, groups=None, clock=time.time,
                 migration_seconds=2.0, flavors=FLAVORS,
                 flavor_weights=FLAVOR_WEIGHTS):
        """A region; the same arguments give the same region.

        ``hosts`` hosts and ``hosts * instances_per_host`` servers,
        placed round-robin (server *k* on the *k*-th host that can take
        it under the allocation ratios, so normally each host gets
        ``instances_per_host``).

        :param groups: number of anti-affinity server groups (of 2 or 3
            servers on distinct hosts); None: about 1 % of the servers in
            groups
        :raises ValueError: impossible parameters, or the servers do not
            fit
        """
        if hosts < 1 or zones < 1 or zones > hosts or instances_per_host < 0:
            raise ValueError('need hosts >= zones >= 1 and '
                             'instances_per_host >= 0')
        rng = random.Random(seed)  # nosec B311
        region = cls(clock=clock, migration_seconds=migration_seconds,
                     seed=seed)
        now = region._now()
        region.generated_at = now
        for fid, name, vcpus, ram, disk in flavors:
            region.flavors[fid] = Flavor(fid, name, vcpus, ram, disk)
        region.projects = [uuid.UUID(int=rng.getrandbits(128)).hex
                           for _ in range(PROJECTS)]
        for n in range(hosts):
            zone = ZONE_FORMAT % (n * zones // hosts + 1)
            host = Host(index=n, name=HOST_FORMAT % n, zone=zone,
                        rp_uuid=_uuid(rng), service_id=_uuid(rng),
                        host_ip='10.%d.%d.%d' % (n >> 16, (n >> 8) & 255,
                                                 n & 255),
                        vcpus=host_vcpus, memory_mb=host_memory_mb,
                        disk_gb=HOST_DISK_GB, cpu_ratio=float(cpu_ratio),
                        ram_ratio=float(ram_ratio), service_updated=now)
            region.hosts.append(host)
            region.host_by_name[host.name] = host
        for z in range(zones):
            name = ZONE_FORMAT % (z + 1)
            region.aggregates.append(Aggregate(
                id=z + 1, uuid=_uuid(rng), name=name, zone=name,
                created=now,
                hosts=[h.name for h in region.hosts if h.zone == name]))

        flavor_list = [region.flavors[f[0]] for f in flavors]
        count = hosts * instances_per_host
        # servers were created one after another until now, so that a
        # changes-since read near the newest stamp lists a few, not all
        cursor = 0
        for k in range(count):
            flavor = rng.choices(flavor_list, weights=flavor_weights)[0]
            for tried in range(hosts):
                host = region.hosts[(cursor + tried) % hosts]
                if host.fits(flavor):
                    break
            else:
                raise ValueError('server %d (%s) fits on no host: lower '
                                 'instances_per_host or raise the ratios'
                                 % (k, flavor.name))
            cursor = (cursor + tried + 1) % hosts
            project = region.projects[k % PROJECTS]
            created = now - (count - 1 - k) * CREATION_SPACING_S
            server = Server(id=_uuid(rng), name=SERVER_FORMAT % k, index=k,
                            flavor=flavor, host=host.name, zone=host.zone,
                            project_id=project, user_id=project[:16],
                            created=created, updated=created)
            region._add_server(server, host)
            region._initial.append(created)

        region._generate_groups(rng, groups)
        return region

    def _add_server(self, server, host):
        self.servers[server.id] = server
        self._order.append(server.id)
        host.servers.add(server.id)
        host.allocate(server.flavor)

    def _generate_groups(self, rng, groups):
        total = len(self._order)
        if groups is None:
            groups = int(round(total * GROUPED_SHARE / 2.5))
        if not groups or len(self.hosts) < 2:
            return
        step = max(3, total // groups)
        for g in range(groups):
            start = g * step
            size = rng.choice((2, 3))
            members = []
            hosts = set()
            for k in range(start, min(start + step, total)):
                server = self.servers[self._order[k]]
                if server.host not in hosts:
                    members.append(server)
                    hosts.add(server.host)
                if len(members) == size:
                    break
            if len(members) < 2:
                break
            project = members[0].project_id
            group = ServerGroup(id=_uuid(rng), name='lt-group-%05d' % g,
                                policy='anti-affinity', project_id=project,
                                user_id=project[:16],
                                members=[s.id for s in members])
            for server in members:
                server.group = group.id
            self.groups.append(group)
            self.group_by_id[group.id] = group

    # -- time --

    def _now(self):
        """The region clock, never behind a stamp already given."""
        self._stamp = max(self._stamp, float(self.clock()))
        return self._stamp

    def _touch(self, server, now):
        server.updated = now
        server.rev += 1
        self._changes.append((now, server.id))

    def advance(self):
        """Complete the live migrations that are due; how many."""
        done = 0
        with self.lock:
            now = self._now()
            while self._running and self._running[0][0] <= now:
                _, mid = heapq.heappop(self._running)
                migration = self.migrations[mid - 1]
                if migration.status != 'running' or \
                        migration.due is None or migration.due > now:
                    continue
                self._complete(migration, now)
                done += 1
        return done

    # -- reads (call under the lock, after advance()) --

    def server(self, server_id, deleted=False):
        """A server by id; :class:`NotFound` if none (or deleted)."""
        server = self.servers.get(server_id)
        if server is None or (server.deleted and not deleted):
            raise NotFound('Instance %s could not be found.' % server_id)
        return server

    def host(self, name):
        host = self.host_by_name.get(name)
        if host is None:
            raise NotFound('Compute host %s could not be found.' % name)
        return host

    def _rp_index(self):
        if len(self._by_rp) != len(self.hosts):
            self._by_rp = {h.rp_uuid: h for h in self.hosts}
        return self._by_rp

    def provider(self, rp_uuid):
        """The host of a resource provider; :class:`NotFound` if none."""
        host = self._rp_index().get(rp_uuid)
        if host is None:
            raise NotFound('No resource provider with uuid %s found'
                           % rp_uuid)
        return host

    def servers_on(self, host_name):
        """The servers whose host is ``host_name``, by creation."""
        with self.lock:
            host = self.host(host_name)
            return sorted((self.servers[s] for s in host.servers),
                          key=lambda s: s.index)

    def list_servers(self, changes_since=None, marker=None, limit=1000):
        """(servers, full page), newest first, as Nova pages them.

        Without ``changes_since``, deleted servers are left out; with it,
        the servers changed at or after it, deleted ones included.
        :raises BadRequest: unknown marker
        """
        start = len(self._order) - 1
        if marker is not None:
            known = self.servers.get(marker)
            if known is None:
                raise BadRequest('marker [%s] not found' % marker)
            start = known.index - 1
        page = []
        if changes_since is None:
            order = self._order
            k = start
            while k >= 0 and len(page) < limit:
                server = self.servers[order[k]]
                if not server.deleted:
                    page.append(server)
                k -= 1
            return page, len(page) == limit
        changed = self._changed_since(changes_since)
        end = bisect.bisect_right(changed, start)
        page = [self.servers[self._order[k]]
                for k in reversed(changed[max(0, end - limit):end])]
        return page, len(page) == limit

    def _changed_since(self, since):
        """Creation indexes of the servers updated since, ascending.

        Kept while nothing changes: the pages of a listing share it.
        """
        key = (since, len(self._changes), len(self._order))
        if self._changed_cache is not None and \
                self._changed_cache[0] == key:
            return self._changed_cache[1]
        # untouched since generation: their stamps grow with their index
        k0 = bisect.bisect_left(self._initial, since)
        indexes = set(range(k0, len(self._initial)))
        first = bisect.bisect_left(self._changes, (since, ''))
        indexes.update(self.servers[sid].index
                       for _, sid in self._changes[first:])
        changed = sorted(indexes)
        self._changed_cache = (key, changed)
        return changed

    def list_hypervisors(self, marker=None, limit=1000):
        """(hosts, full page), by compute node id, as Nova pages them."""
        start = 0
        if marker is not None:
            host = self._rp_index().get(marker)
            if host is None:
                raise BadRequest('marker [%s] not found' % marker)
            start = host.index + 1
        page = self.hosts[start:start + limit]
        return page, len(page) == limit

    def list_migrations(self, server_id=None, migration_type=None,
                        status=None, source_compute=None, host=None,
                        changes_since=None, changes_before=None,
                        marker=None, limit=1000):
        """(migrations, full page), newest first, as ``/os-migrations``."""
        if server_id is not None:
            pool = self._server_migrations.get(server_id, [])
        else:
            pool = self.migrations
        start = None
        if marker is not None:
            found = [m for m in self.migrations if m.uuid == marker]
            if not found:
                raise BadRequest('Marker %s could not be found.' % marker)
            start = found[0].id
        page = []
        for m in reversed(pool):
            if start is not None and m.id >= start:
                continue
            if migration_type and m.migration_type != migration_type:
                continue
            if status and m.status != status:
                continue
            if source_compute and m.source != source_compute:
                continue
            if host and host not in (m.source, m.dest):
                continue
            if changes_since is not None and m.updated < changes_since:
                continue
            if changes_before is not None and m.updated > changes_before:
                continue
            page.append(m)
            if len(page) == limit:
                break
        return page, len(page) == limit

    def server_migrations(self, server_id):
        """The server's live migrations in progress."""
        self.server(server_id)
        return [m for m in self._server_migrations.get(server_id, ())
                if m.status in IN_PROGRESS
                and m.migration_type == LIVE_MIGRATION]

    def server_migration(self, server_id, migration_id):
        self.server(server_id)
        for m in self._server_migrations.get(server_id, ()):
            if m.id == migration_id:
                return m
        raise NotFound('Migration %s not found for instance %s.'
                       % (migration_id, server_id))

    def server_actions(self, server_id):
        """The server's actions, newest first (its ``create`` last)."""
        server = self.server(server_id)
        create = Action(request_id='req-%s' % server.id, server_id=server.id,
                        action='create', start=server.created,
                        updated=server.created, project_id=server.project_id,
                        user_id=server.user_id,
                        events=[{'event': 'compute__do_build_and_run_instance',
                                 'start': server.created,
                                 'finish': server.created,
                                 'result': 'Success', 'host': None,
                                 'details': None}])
        return list(reversed(self.actions.get(server_id, []))) + [create]

    def server_action(self, server_id, request_id):
        for action in self.server_actions(server_id):
            if action.request_id == request_id:
                return action
        raise NotFound('Action %s could not be found.' % request_id)

    def service(self, service_id):
        for host in self.hosts:
            if host.service_id == service_id:
                return host
        raise NotFound('Service %s could not be found.' % service_id)

    def summary(self):
        """Counts for the load test's report."""
        with self.lock:
            self.advance()
            statuses = collections.Counter(m.status for m in self.migrations)
            return {
                'hosts': len(self.hosts),
                'servers': sum(1 for s in self.servers.values()
                               if not s.deleted),
                'server_groups': len(self.groups),
                'zones': len(self.aggregates),
                'disabled_hosts': sum(1 for h in self.hosts
                                      if h.status == 'disabled'),
                'migrations': dict(statuses),
                'requests': len(self.requests),
                'refused': sum(1 for r in self.requests if not r.accepted)}

    def placement(self):
        """{host: [server ids]} now (for the agents' generator)."""
        with self.lock:
            self.advance()
            return {h.name: sorted(h.servers,
                                   key=lambda s: self.servers[s].index)
                    for h in self.hosts}

    # -- the scheduler --

    def _group_hosts(self, server):
        """Hosts where the server's anti-affinity group has members."""
        group = self.group_by_id.get(server.group)
        if group is None:
            return frozenset()
        return frozenset(self.servers[m].host for m in group.members
                         if m != server.id and not self.servers[m].deleted)

    def _why_not(self, server, host, force=False):
        """Why Nova's scheduler would not send ``server`` to ``host``."""
        if host.name == server.host:
            return 'destination is the source'
        if host.forced_down:
            return 'destination compute service is down'
        if not force and host.status != 'enabled':
            return 'destination compute service is disabled'
        if not host.fits(server.flavor):
            return 'not enough capacity on the destination'
        group = self.group_by_id.get(server.group)
        if not force and group is not None:
            on = self._group_hosts(server)
            if group.policy == 'anti-affinity' and host.name in on:
                return 'anti-affinity group %s has a member there' % group.id
            if group.policy == 'affinity' and on and host.name not in on:
                return 'affinity group %s is elsewhere' % group.id
        return None

    def _schedule(self, server, target, force):
        """(host, None) chosen for ``server``, or (None, reason)."""
        if target is not None:
            host = self.host_by_name[target]
            why = self._why_not(server, host, force)
            return (None, why) if why else (host, None)
        best = None
        for host in self.hosts:
            if self._why_not(server, host) is None and (
                    best is None or host.free(MEMORY_MB)
                    > best.free(MEMORY_MB)):
                best = host
        return (best, None) if best else (None, 'no host passes the filters')

    # -- changes --

    def live_migrate(self, server_id, host=None, client=None, force=False,
                     async_=False):
        """Live-migrate a server, as ``POST /servers/{id}/action`` would.

        :param host: the destination (None: the scheduler chooses, the
            host with the most free memory)
        :param force: skip the scheduler's filters (capacity is still
            claimed)
        :param async_: the request's microversion is 2.34 or later: a
            destination that fails the checks is not refused, the
            migration record ends ``error`` instead
        :returns: the :class:`Migration` (status ``running``, or ``error``
            when ``async_`` and no host fitted)
        :raises NotFound: no such server (404)
        :raises Conflict: the server has a task or cannot be migrated
            (409)
        :raises BadRequest: unknown host, or no valid host (400)
        """
        with self.lock:
            self.advance()
            now = self._now()
            server = self.servers.get(server_id)
            source = server.host if server is not None and \
                not server.deleted else None
            request = MigrationRequest(
                wall=time.time(), at=now, client=client, server=server_id,
                source=source, target=host, accepted=False, http_status=202)
            self.requests.append(request)
            try:
                migration = self._live_migrate(server_id, host, force,
                                               async_, now)
            except RegionError as e:
                request.http_status = e.code
                request.error = e.message
                request.reason = e.reason
                raise
            request.migration_id = migration.id
            request.dest = migration.dest
            request.accepted = migration.status == 'running'
            if not request.accepted:
                request.error = NO_VALID_HOST
                request.reason = self._last_reason
            return migration

    def _live_migrate(self, server_id, target, force, async_, now):
        server = self.server(server_id)
        if server.vm_state not in MIGRATABLE_VM_STATES:
            raise Conflict("Cannot 'os-migrateLive' instance %s while it is "
                           "in vm_state %s" % (server.id, server.vm_state))
        if server.task_state is not None:
            raise Conflict("Cannot 'os-migrateLive' instance %s while it is "
                           "in task_state %s" % (server.id,
                                                 server.task_state))
        if target is not None and target not in self.host_by_name:
            raise BadRequest('Compute host %s could not be found.' % target)
        chosen, why = self._schedule(server, target, force)
        source = self.host_by_name[server.host]
        migration = Migration(
            id=len(self.migrations) + 1, uuid=_uuid(self._rng),
            server_id=server.id, source=server.host,
            dest=chosen.name if chosen else (target if force else None),
            status='running' if chosen else 'error', created=now,
            updated=now, flavor_id=server.flavor.id,
            project_id=server.project_id, user_id=self.ADMIN_USER)
        action = Action(request_id='req-%s' % _uuid(self._rng),
                        server_id=server.id, action=LIVE_MIGRATION,
                        start=now, updated=now, project_id=server.project_id,
                        user_id=self.ADMIN_USER)
        self.migrations.append(migration)
        self._server_migrations[server.id].append(migration)
        self.actions[server.id].append(action)
        self._touch(server, now)
        if chosen is None:
            self._last_reason = why
            action.message = 'Error'
            action.events.append({
                'event': 'conductor_live_migrate_instance', 'start': now,
                'finish': now, 'result': 'Error', 'host': None,
                'details': NO_VALID_HOST})
            if not async_:
                raise BadRequest(NO_VALID_HOST, reason=why)
            return migration
        self._last_reason = None
        action.events.append({
            'event': 'conductor_live_migrate_instance', 'start': now,
            'finish': now, 'result': 'Success', 'host': None,
            'details': None})
        action.events.append({
            'event': 'compute_live_migration', 'start': now,
            'finish': None, 'result': None, 'host': source.name,
            'details': None})
        # Placement: the source allocation moves to the migration, the
        # instance is allocated on the destination (both providers change)
        chosen.allocate(server.flavor)
        source.generation += 1
        server.task_state = MIGRATING
        server.migration = migration
        migration.due = now + self.migration_seconds
        heapq.heappush(self._running, (migration.due, migration.id))
        return migration

    def _finish_action(self, migration, now, result, details=None):
        for action in reversed(self.actions.get(migration.server_id, ())):
            if action.action != LIVE_MIGRATION:
                continue
            for event in action.events:
                if event['finish'] is None:
                    event.update(finish=now, result=result, details=details)
            action.updated = now
            if result != 'Success':
                action.message = 'Error'
            return

    def _complete(self, migration, now):
        server = self.servers[migration.server_id]
        source = self.host_by_name[migration.source]
        dest = self.host_by_name[migration.dest]
        migration.status = 'completed'
        migration.updated = now
        # the migration's allocation on the source is deleted
        source.allocate(server.flavor, sign=-1)
        source.servers.discard(server.id)
        dest.servers.add(server.id)
        server.host = dest.name
        server.zone = dest.zone
        server.task_state = None
        server.migration = None
        self._touch(server, now)
        self._finish_action(migration, now, 'Success')

    def _in_progress(self, server_id, migration_id, what):
        migration = self.server_migration(server_id, migration_id)
        server = self.servers[server_id]
        if server.task_state != MIGRATING:
            raise Conflict("Cannot '%s' instance %s while it is in "
                           "task_state %s" % (what, server_id,
                                              server.task_state))
        if migration.status not in IN_PROGRESS:
            raise BadRequest('Migration %s state of instance %s is %s. '
                             'Cannot %s while the migration is in this '
                             'state.' % (migration_id, server_id,
                                         migration.status, what))
        return migration

    def abort_migration(self, server_id, migration_id):
        """``DELETE /servers/{id}/migrations/{mid}``: cancel it."""
        with self.lock:
            self.advance()
            now = self._now()
            migration = self._in_progress(server_id, migration_id,
                                          'abort live migration')
            server = self.servers[server_id]
            dest = self.host_by_name[migration.dest]
            source = self.host_by_name[migration.source]
            migration.status = 'cancelled'
            migration.updated = now
            migration.due = None
            # the allocations go back as they were
            dest.allocate(server.flavor, sign=-1)
            source.generation += 1
            server.task_state = None
            server.migration = None
            self._touch(server, now)
            self._finish_action(migration, now, 'Error',
                                'Migration %s was cancelled' % migration.id)
            return migration

    def force_complete(self, server_id, migration_id):
        """``POST .../migrations/{mid}/action {"force_complete": null}``."""
        with self.lock:
            self.advance()
            migration = self._in_progress(server_id, migration_id,
                                          'force_complete')
            if migration.status != 'running':
                raise BadRequest('Migration %s state of instance %s is %s. '
                                 'Cannot force_complete while the migration '
                                 'is in this state.'
                                 % (migration_id, server_id,
                                    migration.status))
            migration.due = self._now()
            heapq.heappush(self._running, (migration.due, migration.id))
            self.advance()
            return migration

    def set_service_status(self, host, disabled=None, reason=None,
                           forced_down=None):
        """Disable or enable a host's nova-compute, or force it down."""
        with self.lock:
            target = self.host(host)
            if disabled is not None:
                target.status = 'disabled' if disabled else 'enabled'
                target.disabled_reason = reason if disabled else None
            if forced_down is not None:
                target.forced_down = bool(forced_down)
            target.service_updated = self._now()
            return target

    def delete_server(self, server_id):
        """Delete a server (its migration in progress is dropped)."""
        with self.lock:
            self.advance()
            now = self._now()
            server = self.server(server_id)
            host = self.host_by_name[server.host]
            migration = server.migration
            if migration is not None:
                migration.status = 'error'
                migration.updated = now
                migration.due = None
                self.host_by_name[migration.dest].allocate(server.flavor,
                                                           sign=-1)
            host.allocate(server.flavor, sign=-1)
            host.servers.discard(server.id)
            group = self.group_by_id.get(server.group)
            if group is not None and server.id in group.members:
                group.members.remove(server.id)
            server.deleted = True
            server.vm_state = 'deleted'
            server.task_state = None
            server.migration = None
            self._touch(server, now)
            return server

    def create_server(self, flavor_id, host=None, name=None, client=None):
        """Boot a server (ACTIVE at once) on ``host`` or where it fits.

        :raises BadRequest: no valid host
        """
        with self.lock:
            self.advance()
            now = self._now()
            flavor = self.flavors.get(str(flavor_id))
            if flavor is None:
                raise BadRequest('Flavor %s could not be found.' % flavor_id)
            if host is not None and host not in self.host_by_name:
                raise BadRequest('Compute host %s could not be found.'
                                 % host)
            k = len(self._order)
            project = self.projects[k % len(self.projects)] \
                if self.projects else 'project'
            server = Server(id=_uuid(self._rng),
                            name=name or SERVER_FORMAT % k, index=k,
                            flavor=flavor, host=None, zone=None,
                            project_id=project, user_id=project[:16],
                            created=now, updated=now)
            chosen, why = self._schedule(server, host, force=False)
            if chosen is None:
                raise BadRequest(NO_VALID_HOST, reason=why)
            server.host, server.zone = chosen.name, chosen.zone
            self._add_server(server, chosen)
            self._touch(server, now)
            return server
