# SPDX-License-Identifier: Apache-2.0
"""Balancer replicas sharing the compute hosts through tooz.

Every replica joins one tooz group (``[drs_coordination] group``). In
``partitioned`` mode a host belongs to the member that tooz's consistent
hash ring over the current members names, so replicas that see the same
members agree without talking to each other. In ``per_host`` mode a
replica owns only its own compute host.

With ``[drs_listener] partitions`` N > 0 the N intake partitions are
dealt evenly among the members (:func:`partition_table`) rather than the
hosts placed on the ring, and a host belongs to the owner of its
partition (:mod:`nova_drs.notifications.partition`): a replica then owns
exactly the hosts whose metrics it reads (:mod:`nova_drs.balancer.
partitions`), and a membership change moves whole partitions.

Ownership rule: ownership is a lease. A replica owns hosts only until
``member_timeout - heartbeat_interval`` seconds after the start of its
last successful heartbeat. The backend forgets a member ``member_timeout``
seconds after it *received* that heartbeat, which is later, and the other
replicas only take the hosts over when they next read the members after
that: so a replica cut off from the backend has stopped claiming its
hosts at least one heartbeat interval (a margin for clock rates and
scheduling) before anyone else can claim them. A replica that joins owns
nothing for two heartbeat intervals, the time the others need to see it
and let go.

Ownership divides the work; it is not mutual exclusion (a process can be
paused between :meth:`Coordinator.owns` and its next step). Two replicas
never migrate the same instance nor fill one destination together
because of the per-instance and per-destination locks
(:meth:`Coordinator.lock`) and the database's compare-and-set transitions.
"""

import collections
import contextlib
import hashlib
import os
import socket
import threading
import time
import urllib.parse

from oslo_log import log as logging
import tooz
from tooz import coordination as tooz_coordination
from tooz import hashring

from nova_drs.balancer.coordination import backend_retries
from nova_drs.notifications import partition as partition_mod
from nova_drs import periodic

LOG = logging.getLogger(__name__)

PARTITIONED = 'partitioned'
PER_HOST = 'per_host'

#: what listeners receive: the members seen now (str), the ones that
#: joined and left since the last event, and whether this replica owns
#: hosts (it has a valid lease)
MembershipChange = collections.namedtuple(
    'MembershipChange', ['members', 'joined', 'left', 'active'])


class LockNotAcquired(Exception):
    """A lock could not be taken; ``reason`` says why."""

    def __init__(self, name, reason):
        super().__init__('lock %s not acquired: %s' % (name, reason))
        self.name = name
        self.reason = reason


def instance_lock_name(instance_uuid):
    """Name of the lock of one instance (held while migrating it)."""
    return 'drs-instance-%s' % instance_uuid


def host_lock_name(host):
    """Name of the lock of one destination host (held while placing)."""
    return 'drs-host-%s' % host


def ring(members):
    """Who owns what among ``members``: a :class:`Ring`.

    Every replica, and the API's status, build it the same way, so they
    all agree on who owns which host without talking to each other.
    """
    return Ring(members)


class Ring:
    """The shares of the current members.

    Hosts (without intake partitions) are placed on tooz's consistent
    hash ring. The intake partitions, a small fixed set, are not: a hash
    ring places a few dozen keys very unevenly (64 partitions on 2
    members: 27 and 37; 128 on 3: 27, 49 and 52), and the busiest
    replica would set the region's limit. They are dealt by
    :func:`partition_table` instead: as even as the counts allow, and
    still stable when a member joins or leaves.
    """

    def __init__(self, members):
        self.members = tuple(sorted(members))
        self._hosts = hashring.HashRing(self.members)
        self._tables = {}

    def host_owner(self, host):
        return _owner(host, self._hosts)

    def partition_owner(self, partition, count):
        table = self._tables.get(count)
        if table is None:
            table = self._tables[count] = partition_table(self.members,
                                                          count)
        return table[partition]


def _rank(key, member):
    return hashlib.sha256(('%s/%s' % (key, member)).encode('utf-8')).digest()


def partition_table(members, count):
    """The owner of each of ``count`` intake partitions (a list).

    Rendezvous hashing with bounded loads: each partition, in order, goes
    to the member that ranks highest for it among those that have not
    reached their share (count // members, or one more for the first
    count % members to get there). So the shares differ by at most one
    partition, and a membership change moves about the share
    of the member that came or went (a few more when the bound shifts),
    not everything, as a modulo rule would.
    """
    members = sorted(members)
    if not members:
        return [None] * count
    # each member takes `base` partitions, `extra` of them one more
    base, extra = divmod(count, len(members))
    load = dict.fromkeys(members, 0)
    table = []
    for p in range(count):
        key = partition_mod.ring_key(p)
        for member in sorted(members, key=lambda m: _rank(key, m),
                             reverse=True):
            if load[member] < base or (load[member] == base and extra):
                if load[member] == base:
                    extra -= 1
                load[member] += 1
                table.append(member)
                break
    return table


def owner_of(host, members_ring, partitions=partition_mod.UNPARTITIONED):
    """The member (str) that owns ``host`` on ``members_ring`` (a Ring).

    :param partitions: ``[drs_listener] partitions``: with N > 0 a host
        belongs to the owner of its intake partition, so that a replica
        owns exactly the hosts whose metrics it receives
    """
    if partitions:
        return members_ring.partition_owner(
            partition_mod.partition_of(host, partitions), partitions)
    return members_ring.host_owner(host)


def partition_owner(partition, members_ring, count):
    """The member (str) that owns intake partition ``partition``."""
    return members_ring.partition_owner(partition, count)


def _owner(key, hash_ring):
    for node in hash_ring.get_nodes(key.encode('utf-8')):
        return node.decode('utf-8') if isinstance(node, bytes) else node
    return None


def default_replica_id():
    return '%s-%d' % (socket.gethostname(), os.getpid())


def backend_options(url, member_timeout):
    """tooz options for a member timeout of ``member_timeout`` seconds.

    The backend then forgets a member (and its locks) that long after its
    last heartbeat. They replace the URL's own timeouts.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.split('+')[0]
    timeout = int(member_timeout)
    if scheme == 'file':
        return {'timeout': timeout}
    if scheme in ('redis', 'rediss'):
        options = {'membership_timeout': timeout, 'lock_timeout': timeout}
        if 'socket_timeout' not in urllib.parse.parse_qs(parts.query):
            # NOTE: a heartbeat must not hang for longer than the lease
            options['socket_timeout'] = max(1.0, timeout / 4.0)
        return options
    if scheme in ('etcd3', 'etcd3gw'):
        return {'membership_timeout': timeout, 'lock_timeout': timeout}
    if scheme in ('zookeeper', 'kazoo'):
        return {'timeout': timeout}
    return {}


def _text(member):
    return member.decode('utf-8') if isinstance(member, bytes) else member


class Coordinator:
    """This replica's membership, the hosts it owns, and the locks.

    :param conf: configuration with the ``[drs_coordination]`` group
    :param clock: monotonic clock (seconds), for tests
    :raises ValueError: inconsistent intervals
    :raises tooz.ToozError: unknown backend (driver not installed)
    """

    def __init__(self, conf, clock=time.monotonic,
                 partitions=partition_mod.UNPARTITIONED):
        opts = conf.drs_coordination
        if opts.heartbeat_interval * 3 > opts.member_timeout:
            raise ValueError(
                '[drs_coordination] heartbeat_interval (%s) must be at most '
                'a third of member_timeout (%s)'
                % (opts.heartbeat_interval, opts.member_timeout))
        self.member_id = opts.replica_id or default_replica_id()
        self.mode = opts.mode
        self.host = opts.host
        self.group = opts.group
        self.interval = opts.heartbeat_interval
        self.member_timeout = opts.member_timeout
        self.lock_wait = opts.lock_wait
        #: intake partitions (``[drs_listener] partitions``; 0: none)
        self.partitions = partitions
        self._clock = clock
        self._group_id = self.group.encode('utf-8')
        self._driver = backend_retries.bound(
            tooz_coordination.get_coordinator(
                opts.backend_url, self.member_id.encode('utf-8'),
                **backend_options(opts.backend_url, self.member_timeout)))
        self._state = threading.Lock()
        self._members = frozenset()
        self._ring = None
        self._lease_until = None
        self._owning_from = None
        self._joined = False
        self._reported = (frozenset(), False)
        self._listeners = []
        self._stopping = threading.Event()
        self._runner = None
        # heartbeat turns left out after failures (the back-off)
        self._skip = 0
        self.failures = 0

    # -- life cycle -------------------------------------------------------

    def start(self):
        """Start the heartbeat thread; it connects and joins the group.

        Does not wait for the backend: until the first heartbeat succeeds
        this replica owns nothing (see :meth:`wait_active`).
        """
        if self._runner is not None:
            return self
        self._stopping.clear()
        # NOTE: a heartbeat every interval from the start of the previous
        # one (it was from its end): the lease counts from the start of
        # the last good one, so this keeps more of it in hand
        self._runner = periodic.Periodic('drs-coordination', [
            periodic.Task(self._heartbeat, self.interval,
                          run_immediately=True, name='the heartbeat')])
        self._runner.start()
        return self

    def stop(self):
        """Own nothing any more, leave the group and disconnect."""
        with self._state:
            self._lease_until = None
        self._stopping.set()
        if self._runner is not None:
            self._runner.stop()
            self._runner.wait()
            self._runner = None
        if self._driver.is_started:
            try:
                self._driver.stop()  # leaves the group, releases locks
            except tooz.ToozError as e:
                LOG.warning('Coordination: could not leave group %s '
                            'cleanly: %s', self.group, e)
        self._joined = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def add_listener(self, callback):
        """Call ``callback(MembershipChange)`` on membership changes.

        That is, when the members change or this replica gains or loses
        its lease. Called from the heartbeat thread: the service should
        re-plan and look for in-flight actions of the hosts it now owns
        (``Database.find_in_flight``, ``take_over``). Exceptions are
        logged and ignored.
        """
        self._listeners.append(callback)

    # -- ownership --------------------------------------------------------

    def is_active(self):
        """True while this replica may act on the hosts it owns."""
        now = self._clock()
        with self._state:
            return self._active(now)

    def _active(self, now):
        return (self._lease_until is not None and now < self._lease_until
                and now >= self._owning_from)

    def wait_active(self, timeout):
        """Wait up to ``timeout`` seconds until :meth:`is_active`."""
        deadline = self._clock() + timeout
        # NOTE: hand-written: a wait for the heartbeat thread, not a retry
        while not self.is_active():
            if self._clock() >= deadline:
                return False
            time.sleep(min(0.05, self.interval))
        return True

    @property
    def members(self):
        """The members (str) seen at the last successful heartbeat."""
        with self._state:
            return self._members

    def owned_hosts(self, all_hosts):
        """The hosts of ``all_hosts`` this replica owns now (a set).

        Empty without a valid lease (backend unreachable for
        ``member_timeout - heartbeat_interval``, not started yet,
        stopped).
        """
        now = self._clock()
        with self._state:
            if not self._active(now):
                return set()
            hash_ring = self._ring
        if self.mode == PER_HOST:
            return {self.host} & set(all_hosts)
        return {host for host in all_hosts
                if owner_of(host, hash_ring, self.partitions)
                == self.member_id}

    def owned_partitions(self):
        """The intake partitions this replica owns now (a frozenset).

        Empty without a valid lease, as :meth:`owned_hosts`, or without
        partitions. The hosts of these partitions are :meth:`owned_hosts`.
        """
        now = self._clock()
        with self._state:
            if not self._active(now) or not self.partitions:
                return frozenset()
            hash_ring = self._ring
        return frozenset(p for p in range(self.partitions)
                         if partition_owner(p, hash_ring, self.partitions)
                         == self.member_id)

    def owns(self, host):
        return bool(self.owned_hosts([host]))

    # -- locks ------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name, wait=None):
        """Hold the lock ``name`` for the ``with`` block.

        Names: :func:`instance_lock_name`, :func:`host_lock_name`.

        :param wait: seconds to wait for it (``[drs_coordination]
            lock_wait`` by default, 0 tries once)
        :raises LockNotAcquired: held by another replica, backend error,
            or this replica has no lease
        """
        wait = self.lock_wait if wait is None else wait
        if not self.is_active():
            raise LockNotAcquired(name, 'this replica has no lease on the '
                                        'coordination backend')
        lock = self._driver.get_lock(name.encode('utf-8'))
        try:
            acquired = lock.acquire(blocking=wait if wait > 0 else False)
        except tooz.ToozError as e:
            raise LockNotAcquired(name, 'backend error: %s' % e)
        if not acquired:
            raise LockNotAcquired(name, 'held by another replica')
        try:
            yield lock
        finally:
            try:
                lock.release()
            except tooz.ToozError as e:
                # it expires with this replica's membership
                LOG.warning('Coordination: could not release lock %s: %s',
                            name, e)

    # -- heartbeat thread -------------------------------------------------

    def _heartbeat(self):
        if self._skip > 0:
            # backing off after failures; a lease running out meanwhile
            # is still reported on time
            self._skip -= 1
            self._notify()
            return
        try:
            self._beat()
        except Exception as e:
            self.failures += 1
            delay, self._skip = periodic.backoff(
                self.failures, self.interval, self.interval,
                max(self.interval, self.member_timeout / 4.0))
            lease = self._lease_left()
            if isinstance(e, tooz.ToozError):
                LOG.warning('Coordination: heartbeat to %s failed '
                            '(%d in a row, lease %s): %s; retrying in '
                            '%.1f s', self.group, self.failures, lease,
                            e, delay)
            else:
                LOG.exception('Coordination: heartbeat failed (%d in '
                              'a row, lease %s); retrying in %.1f s',
                              self.failures, lease, delay)
        else:
            if self.failures:
                LOG.info('Coordination: backend answers again after '
                         '%d failed heartbeats', self.failures)
            self.failures = 0
        self._notify()

    def _lease_left(self):
        with self._state:
            until = self._lease_until
        if until is None:
            return 'none'
        left = until - self._clock()
        return '%.1f s left' % left if left > 0 else 'expired'

    def _beat(self):
        started = self._clock()
        if not self._driver.is_started:
            self._driver.start(start_heart=False)
        if not self._joined:
            self._join(started)
        self._driver.heartbeat()
        try:
            members = self._driver.get_members(self._group_id).get(
                timeout=self.member_timeout)
        except tooz_coordination.GroupNotCreated:
            # the backend lost its data (a restarted Redis): join again
            self._joined = False
            raise
        members = frozenset(_text(m) for m in members)
        if self.member_id not in members:
            # the others saw this replica's membership expire
            LOG.warning('Coordination: %s is no longer a member of %s; '
                        'joining again', self.member_id, self.group)
            self._join(started)
            members |= {self.member_id}
        with self._state:
            if self._stopping.is_set():
                return
            if members != self._members or self._ring is None:
                self._ring = ring(members)
                self._members = members
            if self._lease_until is None or self._lease_until <= started:
                # a new lease (first join, or after losing it): let the
                # others see this replica before owning anything
                self._owning_from = max(self._owning_from or 0,
                                        started + 2 * self.interval)
            # NOTE: one interval of margin under the backend's expiry
            self._lease_until = (started + self.member_timeout
                                 - self.interval)

    def _join(self, now):
        try:
            self._driver.create_group(self._group_id).get()
        except tooz_coordination.GroupAlreadyExist:
            pass
        try:
            self._driver.join_group(self._group_id).get()
        except tooz_coordination.MemberAlreadyExist:
            # a stale entry of this member id: replace it
            try:
                self._driver.leave_group(self._group_id).get()
            except tooz_coordination.MemberNotJoined:
                pass
            self._driver.join_group(self._group_id).get()
        self._joined = True
        with self._state:
            self._owning_from = now + 2 * self.interval
        LOG.info('Coordination: %s joined group %s (%s mode)',
                 self.member_id, self.group, self.mode)

    def _notify(self):
        now = self._clock()
        with self._state:
            active = self._active(now)
            members = self._members
            old_members, was_active = self._reported
            if (members, active) == (old_members, was_active):
                return
            self._reported = (members, active)
        if was_active and not active:
            LOG.error('Coordination: no successful heartbeat for %.1f s: '
                      '%s owns no host until the backend answers again',
                      self.member_timeout - self.interval, self.member_id)
        change = MembershipChange(members=members,
                                  joined=members - old_members,
                                  left=old_members - members,
                                  active=active)
        LOG.info('Coordination: members of %s now %s (active: %s)',
                 self.group, sorted(members), active)
        for callback in list(self._listeners):
            try:
                callback(change)
            except Exception:
                LOG.exception('Coordination: membership listener %r '
                              'failed', callback)
