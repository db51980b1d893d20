# SPDX-License-Identifier: Apache-2.0
"""What nova-drs tells nova-scheduler, kept in memory and refreshed.

The balancer replicas write each host's state (hot resources, smoothed
loads, staleness) to the ``host_states`` table of the nova-drs database,
and their live migrations to ``actions``. A scheduling request must not
wait for that database, once per host or even once per request, and must
not fail when it is down. So each nova-scheduler process keeps a
:class:`Snapshot` of both in memory, which a daemon thread replaces every
``[drs_scheduler] refresh_interval`` seconds; the filter and weigher only
look hosts up in its dictionaries.

Staleness bound. A snapshot whose last successful refresh is older than
``[drs_scheduler] max_age`` (on the monotonic clock) is not used at all,
and within a usable one a host is unknown when its row was written longer
ago than ``max_age`` (on the wall clock: the balancer's time in the row
against this host's; keep the clocks in sync) or when the balancer marked
it stale (its agent stopped reporting). With no usable snapshot, or for an
unknown host, the filter passes the host and the weigher is neutral, with
a warning at most every ``[drs_scheduler] warning_interval`` seconds.

Threads and processes. The refresh runs on a :class:`nova_drs.periodic.
Periodic` (plain ``threading`` threads: green ones when nova-scheduler runs
monkey-patched by eventlet, native ones otherwise): it never stops, every
error is logged (rate-limited) and the read is tried again at the next
interval. nova-scheduler creates its filters and weighers in its parent
process and then forks its workers, which do not inherit threads: a fork
handler starts a new refresh in the child at once, with a database
connection pool of its own (and the first request of a process that has
none starts one too).
"""

import dataclasses
import os
import threading
import time
import urllib.parse
import weakref

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_drs import periodic

LOG = logging.getLogger(__name__)

#: the loads the weigher uses
CPU = 'cpu'
MEMORY = 'memory'


class DataUnavailable(Exception):
    """The nova-drs database cannot be read; the message says why."""


@dataclasses.dataclass(frozen=True)
class HostEntry:
    """One host, as the filter and weigher need it."""

    #: hot resources (cpu, memory, disk, network)
    hot: tuple
    #: measured headroom between 1 (idle) and -1 (saturated): 1 - 2 x the
    #: smoothed load, so that 0 is the neutral middle
    cpu_headroom: float
    memory_headroom: float
    #: monotonic time after which the row is too old to act on
    fresh_until: float


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The nova-drs data at one refresh."""

    #: host -> HostEntry, for the hosts with a current row
    hosts: dict
    #: host -> the instances whose live migrations are headed there (one
    #: entry per migration)
    reserved: dict
    #: monotonic time of the refresh
    refreshed_at: float
    #: monotonic time after which the whole snapshot is too old
    fresh_until: float
    #: rows left out: written too long ago, or marked stale by the balancer
    unknown_hosts: tuple = ()


@dataclasses.dataclass(frozen=True)
class Current:
    """A usable snapshot, and the time a request looked at it."""

    snapshot: Snapshot
    now: float

    def host(self, name):
        """The :class:`HostEntry` of ``name``; None when it is unknown."""
        entry = self.snapshot.hosts.get(name)
        if entry is None or self.now > entry.fresh_until:
            return None
        return entry

    def reserved(self, name, instance_uuid=None):
        """Live migrations headed to ``name``, but that of ``instance_uuid``.

        The migration of ``instance_uuid`` itself does not count: the room
        the balancer reserved on its destination is that instance's.
        """
        return sum(1 for uuid in self.snapshot.reserved.get(name, ())
                   if uuid != instance_uuid)


def _headroom(loads, resource):
    try:
        load = float(loads[resource])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return 1.0 - 2.0 * min(max(load, 0.0), 1.0)


def build_snapshot(rows, reserved, max_age, wall_now, now):
    """A :class:`Snapshot` of ``host_states`` rows and reservations.

    :param rows: :class:`nova_drs.db.models.HostStateRow` objects
    :param reserved: ``{host: [instance uuid, ...]}``
        (``Database.destination_reservations``)
    :param max_age: seconds a row is trusted after it was written
    :param wall_now: the current time, naive UTC, by the clock the rows
        are stamped with (the database server's)
    :param now: the current monotonic time
    """
    hosts = {}
    unknown = []
    for row in rows:
        age = (wall_now - row.updated_at).total_seconds()
        if row.stale or age > max_age:
            unknown.append(row.host)
            continue
        loads = row.smoothed or row.load or {}
        hosts[row.host] = HostEntry(
            hot=tuple(row.hot or ()),
            cpu_headroom=_headroom(loads, CPU),
            memory_headroom=_headroom(loads, MEMORY),
            # a clock running behind the balancer's gives a negative age:
            # never trust a row longer than max_age from now
            fresh_until=now + max_age - max(age, 0.0))
    reserved = {host: tuple(uuids) for host, uuids in reserved.items()}
    return Snapshot(hosts=hosts, reserved=reserved, refreshed_at=now,
                    fresh_until=now + max_age, unknown_hosts=tuple(unknown))


def utcnow():
    """The current time as a naive UTC datetime (as in the database)."""
    return timeutils.utcnow()


class RateLimitedLog(object):
    """Log each kind of message at most once per interval.

    The next message of a kind says how many were left out meanwhile.

    :param interval: a callable returning the interval in seconds
    """

    def __init__(self, interval, clock=time.monotonic, logger=LOG):
        self._interval = interval
        self._clock = clock
        self._logger = logger
        self._lock = threading.Lock()
        # kind -> [monotonic time of the last message, messages left out]
        self._kinds = {}

    def log(self, level, kind, message, *args, exc_info=False):
        """Log ``message % args`` unless ``kind`` was logged too recently.

        :returns: whether it was logged
        """
        now = self._clock()
        with self._lock:
            last = self._kinds.setdefault(kind, [None, 0])
            if last[0] is not None and now - last[0] < self._interval():
                last[1] += 1
                return False
            left_out, last[0], last[1] = last[1], now, 0
        if left_out:
            message += ' (%d similar message(s) not logged)'
            args += (left_out,)
        self._logger.log(level, message, *args, exc_info=exc_info)
        return True


def _sqlite_file(url):
    """The parsed ``url`` when it names a SQLite database file, else None.

    None too for an in-memory database, a URI filename (``file:``, which
    SQLite itself reads) and a URL that does not parse (``Database()``
    reports it).
    """
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    path = parsed.database
    if (not parsed.drivername.startswith('sqlite') or not path
            or path == ':memory:' or path.startswith('file:')):
        return None
    return parsed


def _sqlite_file_missing(url):
    """The path of a SQLite database file that does not exist, else None.

    SQLite would create an empty file: the scheduler only reads, and an
    empty file owned by nova-scheduler's user would be in the way of the
    balancer's ``nova-drs-manage db sync``.
    """
    parsed = _sqlite_file(url)
    if parsed is None or os.path.exists(parsed.database):
        return None
    return parsed.database


def check_database(conf):
    """Fail when ``[drs_database]`` names a SQLite file that is missing.

    Checked before each read: SQLite opens the file anew for every
    connection, and would create it where it was deleted or moved.

    :raises DataUnavailable:
    """
    missing = _sqlite_file_missing(conf.drs_database.connection)
    if missing:
        raise DataUnavailable(
            'the nova-drs database %s does not exist (the balancer creates '
            'it with nova-drs-manage db sync)' % missing)


def read_only_url(url):
    """``url``, opened read-only when it names a SQLite file.

    :func:`check_database` comes before each read, but the file can be
    moved between the check and the connection SQLite opens for the read
    (one per read: oslo.db gives SQLite files no pool): read-only, SQLite
    fails there instead of creating an empty file (seen in CI: the file
    moved away during a refresh came back empty).
    """
    parsed = _sqlite_file(url)
    if parsed is None:
        return url
    # NOTE: a URI filename is percent-encoded ('?' and '#' would end it)
    query = dict(parsed.query, mode='ro', uri='true')
    return parsed.set(
        database='file:' + urllib.parse.quote(
            os.path.abspath(parsed.database)),
        query=query).render_as_string(hide_password=False)


def open_database(conf):
    """The nova-drs database of ``[drs_database]``, for reading."""
    # NOTE: imported here, in the refresh thread: SQLAlchemy and oslo.db
    # have no business in nova-scheduler's import of the plugins.
    from nova_drs.db import api

    return api.Database(conf, connection=read_only_url(
        conf.drs_database.connection))


def _read_errors():
    """Exceptions that mean "the database cannot be read right now"."""
    from oslo_db import exception as db_exc
    import sqlalchemy as sa

    from nova_drs.db import api
    return (DataUnavailable, api.DatabaseNotConfigured, db_exc.DBError,
            sa.exc.SQLAlchemyError, OSError)


class SchedulerState(object):
    """The process's view of nova-drs data, refreshed in the background.

    :param conf: configuration with ``[drs_scheduler]`` and
        ``[drs_database]`` (:mod:`nova_drs.scheduler.options`)
    :param clock: monotonic clock
    :param wall_clock: naive UTC now, to age the rows; None (the
        default): the database server's, the clock the balancer stamps
        them with (``Database.server_now()``), read once per refresh: a
        nova-scheduler host whose clock is off must not find every row
        too old, nor trust rows longer than ``max_age``
    :param database_factory: ``conf -> Database`` (tests replace it)
    :param autostart: start the refresh thread on first use (tests that
        call :meth:`refresh` themselves turn it off)
    """

    def __init__(self, conf, clock=time.monotonic, wall_clock=None,
                 database_factory=open_database, autostart=True):
        self.conf = conf
        self._autostart = autostart
        self._clock = clock
        self._wall_clock = wall_clock
        self._database_factory = database_factory
        self._snapshot = None
        self._db = None
        #: the host_states rows, read by their changes
        self._cache = None
        self._runner = None
        self._pid = None
        self._lock = threading.Lock()
        self._log = RateLimitedLog(
            lambda: self.conf.drs_scheduler.warning_interval, clock)
        _instances.add(self)
        #: refreshes, refresh_errors, unusable (requests that found no
        #: usable snapshot)
        self.counters = {'refreshes': 0, 'refresh_errors': 0,
                         'unusable': 0}

    # -- for the filter and weigher (once per request) -------------------

    def current(self):
        """The usable snapshot, or None (then pass every host, neutrally).

        Starts the refresh thread when this process has none (first use,
        or a worker forked from the process that created the plugins).
        """
        if self._autostart and self._pid != os.getpid():
            self.start()
        snapshot = self._snapshot
        now = self._clock()
        if snapshot is None:
            self._unusable('nova-drs has no data for the scheduler yet')
            return None
        if now > snapshot.fresh_until:
            self._unusable('the nova-drs data is %.0f s old (max_age %s s): '
                           'the nova-drs database could not be read since',
                           now - snapshot.refreshed_at,
                           self.conf.drs_scheduler.max_age)
            return None
        return Current(snapshot, now)

    def _unusable(self, reason, *args):
        self.counters['unusable'] += 1
        self._log.log(logging.WARNING, 'unusable',
                      reason + '; DRSHotspotFilter passes every host and '
                      'DRSLoadWeigher weighs them all the same', *args)

    # -- refreshing --------------------------------------------------------

    def refresh(self):
        """Read the database once and replace the snapshot.

        :returns: the new :class:`Snapshot`
        :raises: what reading the database raises
        """
        check_database(self.conf)
        if self._db is None:
            self._db = self._database_factory(self.conf)
        rows = self._host_states().read(self._db)
        reserved = self._db.destination_reservations()
        wall_now = (self._db.server_now() if self._wall_clock is None
                    else self._wall_clock())
        snapshot = build_snapshot(rows, reserved,
                                  self.conf.drs_scheduler.max_age,
                                  wall_now, self._clock())
        self._snapshot = snapshot
        self.counters['refreshes'] += 1
        if snapshot.unknown_hosts:
            self._log.log(
                logging.WARNING, 'unknown-hosts',
                'nova-drs has no current state of %d host(s) (%s): the '
                'scheduler plugins treat them as unknown',
                len(snapshot.unknown_hosts),
                ', '.join(sorted(snapshot.unknown_hosts)[:10]))
        return snapshot

    def _host_states(self):
        """The cache of ``host_states`` (made on first use)."""
        if self._cache is None:
            # NOTE: imported here, in the refresh thread (see open_database)
            from nova_drs.db import host_state_cache

            # without the balloon column (per guest, the largest): the
            # plugins judge hosts by their loads and hot flags only, and
            # decoding it was most of a read's cost at 10,000 hosts; nor
            # the Placement capacity the balancer replicas share (Nova's
            # scheduler has Placement itself)
            self._cache = host_state_cache.HostStateCache(
                self.conf.drs_scheduler.full_refresh_interval,
                clock=self._clock, without=('balloon', 'capacity'))
        return self._cache

    def host_state_reads(self):
        """What reading ``host_states`` cost (None: not read yet)."""
        cache = self._cache
        return cache.stats() if cache is not None else None

    def _refresh_logged(self):
        try:
            self.refresh()
        except _read_errors() as e:
            self.counters['refresh_errors'] += 1
            self._log.log(logging.WARNING, 'refresh',
                          'cannot read the nova-drs database, retrying every '
                          '%s s: %s', self.conf.drs_scheduler.refresh_interval,
                          ' '.join(str(e).split()))
        except Exception:
            self.counters['refresh_errors'] += 1
            self._log.log(logging.ERROR, 'refresh-bug',
                          'unexpected error reading the nova-drs database, '
                          'retrying every %s s',
                          self.conf.drs_scheduler.refresh_interval,
                          exc_info=True)

    def start(self):
        """Start the refresh thread of this process (idempotent)."""
        with self._lock:
            pid = os.getpid()
            if self._pid == pid and self._runner is not None:
                return
            if self._pid is not None and self._pid != pid:
                self._forget_parent_database()
            self._pid = pid
            # NOTE: every interval from the start of the previous refresh
            # (it was from its end): a read takes milliseconds
            self._runner = periodic.Periodic(
                'nova-drs-scheduler-refresh', [periodic.Task(
                    self._refresh_logged,
                    self.conf.drs_scheduler.refresh_interval,
                    run_immediately=True, name='the refresh')])
            self._runner.start()

    def _forget_parent_database(self):
        """In a forked child: leave the parent's connections to it."""
        db, self._db = self._db, None
        # the parent's refresh thread may have been changing it at the
        # fork: the child's first refresh reads the whole table
        self._cache = None
        if db is None:
            return
        try:
            # SQLAlchemy's advice after a fork: a new pool, without
            # closing (and so disturbing) the parent's connections
            db.engine.dispose(close=False)
        except Exception:
            LOG.debug('could not drop the parent process\'s pool',
                      exc_info=True)

    def _restart_after_fork(self):
        """In a forked child: a refresh thread of its own, at once."""
        # NOTE: a lock held by a thread of the parent at the fork would
        # stay held for ever here
        self._lock = threading.Lock()
        if self._autostart and self._runner is not None:
            self.start()

    def stop(self, timeout=10):
        """Stop the refresh thread and close the database connections."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()
            if not runner.wait(timeout):
                LOG.warning('the nova-drs scheduler refresh did not end '
                            'within %s s', timeout)
        db, self._db = self._db, None
        if db is not None:
            db.dispose()
        self._pid = None

    def running(self):
        """Whether this process's refresh thread is alive."""
        runner = self._runner
        return (self._pid == os.getpid() and runner is not None
                and runner.running())


#: every SchedulerState of the process, for the fork handler
_instances = weakref.WeakSet()


def _after_fork_in_child():
    for state in list(_instances):
        try:
            state._restart_after_fork()
        except Exception:
            LOG.exception('cannot restart the nova-drs scheduler refresh '
                          'thread after a fork')


os.register_at_fork(after_in_child=_after_fork_in_child)

_shared = None
_shared_lock = threading.Lock()


def shared_state():
    """The process-wide :class:`SchedulerState` on Nova's ``CONF``.

    Created, and its thread started, by the first filter or weigher of the
    process; both use the same one.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            from nova_drs.scheduler import options
            _shared = SchedulerState(options.nova_conf())
            _shared.start()
        return _shared


def reset_shared_state():
    """Stop and forget the process-wide state (tests)."""
    global _shared
    with _shared_lock:
        state, _shared = _shared, None
    if state is not None:
        state.stop()
