# SPDX-License-Identifier: Apache-2.0
"""Running the actions of applying plans: :class:`Executor`.

One executor per balancer replica. Its scan thread looks at the database
every ``[drs_actuator] scan_interval`` seconds (or at once after
:meth:`Executor.poke`) and

1. takes over the running actions of the hosts this replica owns whose
   owner stopped heartbeating ``takeover_after`` seconds ago (another
   replica that died, or this one before a restart), and follows their
   migrations to the end (:meth:`Actuator.follow`);
2. starts the pending actions of applying plans whose source it owns,
   oldest plan first and in plan order, within the cluster-wide and
   per-host limits on concurrent migrations;
3. cancels the plan of an action that stayed blocked (no room on its
   destination, a lock held elsewhere) for ``pending_timeout`` seconds.

What operators set through the API is read at each scan and again right
before an action starts (:meth:`nova_drs.db.api.Database.
balancer_settings`): while automatic balancing is paused, or while the
action's source or destination host is paused, the pending actions of the
plans the balancer applied by itself (``applied_automatically``) are held:
they wait like a blocked action (and their plan is cancelled after
``pending_timeout`` if the pause lasts). Plans an operator applied, and
migrations already running, go on.

Each migration runs in a worker thread of its own, which holds the
instance's lock for the whole migration and the destination's lock from
the room check until Nova's migration record is known.

What makes two replicas safe together (see doc/source/executor.rst): the
database's compare-and-set transitions decide who starts, follows and
finishes an action; the tooz locks keep an instance from being migrated
twice and a destination from being filled by two replicas at once; the
slot count is read and used under one global lock.

A migration whose outcome is unknown (Nova could not be read, or the
worker stopped following it) is never recorded as failed: the action
stays ``running`` without heartbeats and is taken over, possibly by this
replica, and followed again.
"""

import collections
import contextlib
import datetime
import threading
import time

from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy.exc as sa_exc
import tenacity

from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.execution import actuator as actuator_mod
from nova_drs.balancer.execution import admission
from nova_drs.balancer import plan_states
from nova_drs.conf import actuator as actuator_conf
from nova_drs.db import api as db_api
from nova_drs import periodic
from nova_drs import retry_policy

LOG = logging.getLogger(__name__)

#: the global lock under which running migrations are counted and one is
#: started, so that two replicas never both take the last slot
SLOTS_LOCK = 'drs-migration-slots'
#: seconds a scan waits for the slots lock (another replica holds it only
#: while it starts actions: a few database calls each)
SLOTS_LOCK_WAIT = 5.0
#: seconds the scan waits for a worker to start its action or give up
START_WAIT = 60.0
#: database calls of the workers are tried this many times, waiting
#: DB_RETRY_DELAY doubling up to DB_RETRY_MAX seconds between two
DB_ATTEMPTS = 5
DB_RETRY_DELAY = 0.2
DB_RETRY_MAX = 2.0
DB_ERRORS = (db_exc.DBError, sa_exc.SQLAlchemyError)
#: what the database methods retry themselves (oslo.db's wrap_db_retry,
#: :mod:`nova_drs.db.retry`: a deadlock, an insert that lost a race), so
#: that the workers do not retry it again
RETRIED_BY_THE_DATABASE = (db_exc.DBDeadlock, db_exc.DBDuplicateEntry)
#: a failed scan is tried again after SCAN_RETRY_MAX seconds at most
SCAN_RETRY_MAX = 60.0


def _retried_by_workers(error):
    return (isinstance(error, DB_ERRORS)
            and not isinstance(error, RETRIED_BY_THE_DATABASE))


def db_call_policy(what, sleep=time.sleep):
    """A worker's database call ``what``.

    :data:`DB_ATTEMPTS` attempts, waits of :data:`DB_RETRY_DELAY` seconds
    doubling up to :data:`DB_RETRY_MAX` (jittered), on a database error
    the database method did not retry itself (the database unreachable,
    a lost connection); each retry is logged (a warning), the last error
    is raised.
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(_retried_by_workers),
        stop=tenacity.stop_after_attempt(DB_ATTEMPTS),
        wait=retry_policy.backoff(DB_RETRY_DELAY, DB_RETRY_MAX),
        sleep=sleep,
        before_sleep=retry_policy.log_retry(
            LOG, 'Executor: %s' % what, logging.WARNING,
            attempts=DB_ATTEMPTS),
        reraise=True)


#: the result status given to ``on_finished`` for an action that never
#: ran: it stayed blocked and its plan was cancelled
NOT_STARTED = 'not_started'

#: why an action of an automatic plan waits
PAUSED = 'automatic balancing is paused'


def hold_reason(settings, action, automatic):
    """Why ``action`` must not start now, or None.

    :param settings: the operators' :class:`~nova_drs.db.control.
        BalancerSettings`
    :param automatic: its plan was applied by the balancer by itself
    """
    if not automatic:
        return None
    if settings.paused:
        return PAUSED
    paused = [host for host in (action.source, action.target)
              if host and settings.host_paused(host)]
    if paused:
        return 'host %s is paused' % ' and '.join(paused)
    return None


# what a worker tells the scan about the action it was given
STARTED = 'started'
BLOCKED = 'blocked'
LOST = 'lost'
SKIPPED = 'skipped'
ERROR = 'error'


class _Handoff(object):
    """A worker's answer to the scan: did the action start?"""

    def __init__(self):
        self.done = threading.Event()
        self.outcome = None
        self.reason = None

    def tell(self, outcome, reason=None):
        if not self.done.is_set():
            self.outcome, self.reason = outcome, reason
            self.done.set()


class _Heartbeat(object):
    """``on_poll`` of a followed migration: heartbeats the action.

    Returns False (stop following) when the executor stops, when the
    action was taken over by another replica (the heartbeat's
    compare-and-set fails), or when the database could not be written for
    ``takeover_after`` seconds (another replica may have taken it over).
    """

    def __init__(self, executor, action):
        self.executor = executor
        self.action = action
        self.lost = False
        self.last_ok = executor.clock()

    def __call__(self, status):
        ex = self.executor
        if ex.stopping:
            return False
        if self.lost:
            return False
        try:
            ok = ex.db.heartbeat(self.action.uuid, ex.replica_id,
                                 nova_status=status)
        except DB_ERRORS as e:
            ex.count('db_errors')
            silent = ex.clock() - self.last_ok
            if silent >= ex.takeover_after:
                LOG.error('Executor: action %s: no heartbeat written for '
                          '%.0f s (%s); no longer followed, another replica '
                          'may own it now', self.action.uuid, silent, e)
                self.lost = True
                return False
            LOG.warning('Executor: action %s: heartbeat failed (%s); '
                        'still following', self.action.uuid, e)
            return True
        if not ok:
            LOG.warning('Executor: action %s was taken over by another '
                        'replica (or ended); no longer followed here',
                        self.action.uuid)
            self.lost = True
            return False
        self.last_ok = ex.clock()
        return True


class Executor(object):
    """Starts, follows and finishes the live migrations of applying plans.

    :param conf: configuration with ``[drs_actuator]``
    :param db: a :class:`nova_drs.db.api.Database`
    :param actuator: a :class:`nova_drs.balancer.execution.actuator.Actuator`
    :param coordinator: this replica's
        :class:`nova_drs.balancer.coordination.membership.Coordinator`
    :param replica_id: this replica's id, the owner of the actions it runs
        (stable across restarts: the coordinator's member id)
    :param room_check: ``room_check(action, incoming) -> (ok, reason)``,
        asked with the destination locked right before an action starts;
        ``incoming`` are the running actions (all replicas) to the same
        destination. None: always room.
    :param on_finished: ``on_finished(action, result)``, called after an
        action reached a final state, with the
        :class:`~nova_drs.balancer.execution.actuator.MigrationResult`; for an
        action that stayed blocked for ``pending_timeout`` (its plan was
        cancelled) the result's status is :data:`NOT_STARTED` and its
        error says why. Must return quickly (wake the planner).
    :param clock: monotonic seconds (tests replace it)
    :param sleep: waits between two attempts of a database call (tests
        replace it)
    :raises ValueError: inconsistent ``[drs_actuator]`` options
    """

    def __init__(self, conf, db, actuator, coordinator, replica_id,
                 room_check=None, on_finished=None, clock=time.monotonic,
                 sleep=time.sleep):
        actuator_conf.check(conf)
        opts = conf.drs_actuator
        self.db = db
        self.actuator = actuator
        self.coordinator = coordinator
        self.replica_id = replica_id
        self.room_check = room_check
        self.on_finished = on_finished
        self.clock = clock
        self.sleep = sleep
        self.max_total = opts.max_concurrent_migrations
        self.max_per_host = opts.max_concurrent_migrations_per_host
        self.bad_pair_duration = opts.bad_pair_duration
        self.takeover_after = opts.takeover_after
        self.scan_interval = opts.scan_interval
        self.pending_timeout = opts.pending_timeout
        self._state = threading.Lock()
        #: action uuid -> instance uuid, for the actions followed here
        self._following = {}
        #: action uuid -> worker thread (starting or following)
        self._workers = {}
        #: action uuid -> (first seen blocked, why); the scan thread's
        self._blocked = {}
        self._stats = collections.Counter()
        self._stopping = threading.Event()
        self._runner = None
        # failed scans in a row, and the scan turns left out after them
        # (the back-off); the scan thread's
        self._scan_failures = 0
        self._skip = 0

    # -- life cycle ---------------------------------------------------------

    def start(self):
        """Start the scan thread (the first scan runs at once)."""
        if self._runner is not None:
            return self
        self._stopping.clear()
        # NOTE: a scan every interval from the start of the previous one
        # (it was from its end): a scan takes a few database calls
        self._runner = periodic.Periodic('drs-executor', [periodic.Task(
            self._periodic_scan, self.scan_interval, run_immediately=True,
            name='the scan')])
        self._runner.start()
        # a replica that gains hosts looks for their migrations at once
        self.coordinator.add_listener(lambda change: self.poke())
        return self

    def stop(self, timeout=None):
        """Stop scanning and starting; workers stop following.

        Nothing is aborted in Nova and no running action is finished: the
        next owner (another replica, or this one restarted) takes them
        over after ``takeover_after``.

        :param timeout: seconds to wait for the threads (None: until they
            end; a worker ends at its next poll, or after a request to
            Nova in progress)
        :returns: True when every thread ended
        """
        self._stopping.set()
        deadline = None if timeout is None else self.clock() + timeout

        def left():
            return None if deadline is None else max(
                0.0, deadline - self.clock())
        runner, self._runner = self._runner, None
        alive = []
        if runner is not None:
            runner.stop()
            if not runner.wait(left()):
                alive.append(runner.name)
        with self._state:
            threads = list(self._workers.values())
        for thread in threads:
            thread.join(left())
        alive += [t.name for t in threads if t.is_alive()]
        if alive:
            LOG.warning('Executor: threads still running after stop(): %s',
                        ', '.join(alive))
        return not alive

    @property
    def stopping(self):
        return self._stopping.is_set()

    def poke(self):
        """Scan now: a plan is applied, hosts moved, a migration ended.

        After the scan in progress, if any, and whatever the back-off.
        """
        runner = self._runner
        if runner is not None:
            runner.run_soon(self._scan_logged)

    def in_progress(self):
        """``{action uuid: instance uuid}`` followed here now."""
        with self._state:
            return dict(self._following)

    def stats(self):
        """Counters since the start (a dict).

        ``started``, ``completed``, ``failed``, ``aborted``,
        ``taken_over``, ``given_up``, ``unknown``, ``lost``, ``refused``,
        ``held`` (paused), ``lock_busy``, ``plans_cancelled``,
        ``out_of_date``, ``db_errors``,
        ``callback_errors``, ``worker_errors``, ``scan_errors``,
        ``scans``.
        """
        with self._state:
            return dict(self._stats)

    def count(self, name, n=1):
        with self._state:
            self._stats[name] += n

    # -- the scan -----------------------------------------------------------

    def _periodic_scan(self):
        if self._skip > 0:
            # backing off after failed scans
            self._skip -= 1
            return
        self._scan_logged()

    def _scan_logged(self):
        try:
            self.scan()
        except Exception as e:
            self._scan_failures += 1
            failures = self._scan_failures
            self.count('scan_errors')
            delay, self._skip = periodic.backoff(
                failures, self.scan_interval, 2 * self.scan_interval,
                max(self.scan_interval, 60.0))
            if isinstance(e, DB_ERRORS):
                LOG.warning('Executor: scan failed (%d in a row): %s; '
                            'next try in %.1f s', failures, e, delay)
            else:
                LOG.exception('Executor: scan failed (%d in a row); '
                              'next try in %.1f s', failures, delay)
        else:
            self._scan_failures = 0
            self._skip = 0

    def scan(self):
        """One look at the database: take over, then start actions.

        What the scan thread does each time; tests call it directly.
        Nothing happens while this replica has no lease.
        """
        if self.stopping or not self.coordinator.is_active():
            return
        self.count('scans')
        self._take_over()
        self._start_pending()

    def _busy(self, action_uuid):
        with self._state:
            return action_uuid in self._workers

    def _spawn(self, action, target, *args):
        """Run ``target(action, *args)`` in a worker thread."""
        with self._state:
            if action.uuid in self._workers or self._stopping.is_set():
                return False
            thread = threading.Thread(
                target=self._worker, args=(target, action) + args,
                name='drs-action-%s' % action.uuid[:8], daemon=True)
            self._workers[action.uuid] = thread
        thread.start()
        return True

    def _worker(self, target, action, *args):
        try:
            target(action, *args)
        except Exception:
            # NOTE: a bug; the action, if it runs, stays running without
            # heartbeats and is taken over later: never lost, never
            # wrongly failed
            self.count('worker_errors')
            LOG.exception('Executor: action %s: unexpected error',
                          action.uuid)
        finally:
            with self._state:
                self._following.pop(action.uuid, None)
                self._workers.pop(action.uuid, None)

    def _owns(self, host):
        return host is not None and self.coordinator.owns(host)

    # -- 1. takeover ----------------------------------------------------------

    def _take_over(self):
        stale_before = self.db.now() - datetime.timedelta(
            seconds=self.takeover_after)
        for action in self.db.list_actions(state=plan_states.ACTION_RUNNING):
            if self.stopping:
                return
            if self._busy(action.uuid):
                continue
            if (action.heartbeat_at is not None
                    and action.heartbeat_at >= stale_before):
                continue
            if not (self._owns(action.source) or self._owns(action.target)):
                continue
            try:
                won = self.db.take_over(action.uuid, self.replica_id,
                                        action.owner,
                                        stale_before=stale_before)
            except db_api.NotFound:
                continue
            if not won:
                continue
            self.count('taken_over')
            LOG.warning('Executor: took over action %s (instance %s, %s -> '
                        '%s, Nova migration %s) from %s, silent since %s',
                        action.uuid, action.instance_uuid, action.source,
                        action.target, action.migration_id, action.owner,
                        action.heartbeat_at)
            if not self._spawn(action, self._follow_action):
                # stopping: the next owner takes it over again
                return

    def _follow_action(self, action):
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.coordinator.lock(
                    coordination.instance_lock_name(action.instance_uuid)))
            except coordination.LockNotAcquired as e:
                # NOTE: the old owner may still hold it (stalled, not
                # dead); following needs no lock, and nobody else can
                # start this instance while either of us holds it
                LOG.info('Executor: action %s followed without the '
                         'instance lock: %s', action.uuid, e.reason)
            with self._state:
                self._following[action.uuid] = action.instance_uuid
            heartbeat = _Heartbeat(self, action)
            result = self.actuator.follow(
                action.instance_uuid, migration_id=action.migration_id,
                since=action.started_at, target=action.target,
                on_poll=heartbeat)
            if (result.migration_id is not None
                    and action.migration_id is None and not heartbeat.lost):
                self._db_retry('set_migration', self.db.set_migration,
                               action.uuid, self.replica_id,
                               result.migration_id, result.migration_uuid)
            self._finish(action, result)

    # -- 2. start -------------------------------------------------------------

    def _candidates(self):
        """``(action, automatic)`` this replica may start now, in order."""
        plans = sorted(self.db.list_plans(state=plan_states.PLAN_APPLYING),
                       key=lambda p: (p.created_at, p.uuid))
        settings = self.db.balancer_settings() if plans else None
        candidates, pending = [], set()
        for plan in plans:
            automatic = bool(plan.applied_automatically)
            actions = self.db.list_actions(plan_uuid=plan.uuid)
            pending.update(a.uuid for a in actions
                           if a.state == plan_states.ACTION_PENDING)
            for action in admission.ready(actions):
                if self._busy(action.uuid) or not self._owns(action.source):
                    continue
                held = hold_reason(settings, action, automatic)
                if held:
                    self.count('held')
                    self._note_blocked(action, held)
                else:
                    candidates.append((action, automatic))
        for uuid in list(self._blocked):
            if uuid not in pending:
                del self._blocked[uuid]
        return candidates

    def _start_pending(self):
        candidates = self._candidates()
        if not candidates:
            return
        try:
            with self.coordinator.lock(SLOTS_LOCK, wait=SLOTS_LOCK_WAIT):
                self._start_within_limits(candidates)
        except coordination.LockNotAcquired as e:
            LOG.info('Executor: no action started in this scan: %s', e)

    def _start_within_limits(self, candidates):
        running = self.db.list_actions(state=plan_states.ACTION_RUNNING)
        slots = admission.Slots(self.max_total, self.max_per_host,
                                ((a.source, a.target) for a in running))
        for action, automatic in candidates:
            if self.stopping or not self.coordinator.is_active():
                return
            if slots.full():
                return
            if not slots.admits(action.source, action.target):
                continue
            if self._start(action, automatic) == STARTED:
                slots.take(action.source, action.target)

    def _start(self, action, automatic=False):
        """Hand ``action`` to a worker; what it did with it."""
        handoff = _Handoff()
        if not self._spawn(action, self._run_action, handoff, automatic):
            return None
        if not handoff.done.wait(START_WAIT):
            LOG.warning('Executor: action %s: no answer from its worker '
                        'in %d s', action.uuid, START_WAIT)
            return None
        if handoff.outcome == BLOCKED:
            self._note_blocked(action, handoff.reason)
        else:
            self._blocked.pop(action.uuid, None)
        return handoff.outcome

    def _run_action(self, action, handoff, automatic=False):
        try:
            self._start_and_follow(action, handoff, automatic)
        finally:
            # whatever happened, the scan waits no longer
            handoff.tell(ERROR, 'the worker failed (see the log)')

    def _held_now(self, action, automatic):
        """The operators' settings read again, right before the start."""
        if not automatic:
            return None
        try:
            settings = self.db.balancer_settings()
        except DB_ERRORS as e:
            self.count('db_errors')
            return 'the balancer settings cannot be read: %s' % e
        held = hold_reason(settings, action, automatic)
        if held:
            self.count('held')
        return held

    def _lock_or_block(self, stack, name, what, handoff):
        """Take lock ``name`` into ``stack``; False (and BLOCKED) if busy."""
        try:
            stack.enter_context(self.coordinator.lock(name))
        except coordination.LockNotAcquired as e:
            self.count('lock_busy')
            handoff.tell(BLOCKED, '%s: %s' % (what, e.reason))
            return False
        return True

    def _start_and_follow(self, action, handoff, automatic=False):
        with contextlib.ExitStack() as stack:
            if not self._lock_or_block(
                    stack, coordination.instance_lock_name(
                        action.instance_uuid),
                    'instance %s' % action.instance_uuid, handoff):
                return
            # the destination stays locked from the room check until
            # Nova's record of the migration exists (on_record): then
            # Placement holds the room and others see the action running
            destination = contextlib.ExitStack()
            stack.callback(destination.close)
            if action.target is not None and not self._lock_or_block(
                    destination, coordination.host_lock_name(action.target),
                    'destination %s' % action.target, handoff):
                return
            ok, why = self._room(action)
            if not ok:
                self.count('refused')
                handoff.tell(BLOCKED, 'no room on %s: %s'
                             % (action.target, why))
                return
            # ownership may have moved while the locks were taken
            if self.stopping or not self._owns(action.source):
                handoff.tell(SKIPPED, 'no longer owned here')
                return
            # another replica's plan may have moved the instance while
            # this one waited for its lock: a plan made before that is
            # out of date (migrating again would undo or repeat the move)
            moved = self._moved_since_planned(action)
            if moved:
                self._cancel_out_of_date(action, moved)
                handoff.tell(SKIPPED, moved)
                return
            # an operator may have paused balancing since the scan
            held = self._held_now(action, automatic)
            if held:
                handoff.tell(BLOCKED, held)
                return
            if not self.db.start_action(action.uuid, self.replica_id):
                handoff.tell(LOST, 'started elsewhere, or plan ended')
                return
            with self._state:
                self._following[action.uuid] = action.instance_uuid
            self.count('started')
            handoff.tell(STARTED)
            LOG.info('Executor: action %s started: instance %s, %s -> %s',
                     action.uuid, action.instance_uuid, action.source,
                     action.target or '(scheduler)')
            heartbeat = _Heartbeat(self, action)

            def on_record(result):
                try:
                    if result.migration_id is not None:
                        stored = self._db_retry(
                            'set_migration', self.db.set_migration,
                            action.uuid, self.replica_id,
                            result.migration_id, result.migration_uuid)
                        if stored is False:
                            LOG.warning('Executor: action %s is no longer '
                                        'running here (taken over or '
                                        'ended) as Nova started migration '
                                        '%s; no longer followed',
                                        action.uuid, result.migration_id)
                            heartbeat.lost = True
                finally:
                    destination.close()
                    # an action refused for this lock may start now
                    self.poke()

            result = self.actuator.live_migrate(
                action.instance_uuid, action.target, on_record=on_record,
                on_poll=heartbeat)
            self._finish(action, result)

    def _moved_since_planned(self, action):
        """Why ``action`` is out of date, or None (still on its source).

        When Nova cannot be read (or gives the server no host), None: the
        actuator reads the server again and Nova refuses a wrong request.
        """
        others = [a for a in self.db.list_actions(
            state=plan_states.ACTION_RUNNING,
            instance_uuid=action.instance_uuid)
            if a.uuid != action.uuid]
        if others:
            return admission.out_of_date(action, [a.uuid for a in others],
                                         None)
        try:
            host = self.actuator.server_host(action.instance_uuid)
        except actuator_mod.NOT_FOUND:
            return 'instance %s no longer exists' % action.instance_uuid
        except actuator_mod.API_ERRORS as e:
            LOG.warning('Executor: cannot read instance %s before its '
                        'migration: %s', action.instance_uuid, e)
            return None
        return admission.out_of_date(action, [], host)

    def _cancel_out_of_date(self, action, why):
        self.count('out_of_date')
        reason = 'out of date: %s' % why
        LOG.info('Executor: plan %s cancelled: %s', action.plan_uuid,
                 reason)
        if self.db.cancel_plan(action.plan_uuid, self.replica_id,
                               reason=reason):
            self._notify_finished(action, actuator_mod.MigrationResult(
                server=action.instance_uuid, target=action.target,
                source=action.source, status=NOT_STARTED, error=reason))

    def _room(self, action):
        if self.room_check is None:
            return True, ''
        incoming = []
        if action.target is not None:
            incoming = [a for a in self.db.list_actions(
                state=plan_states.ACTION_RUNNING, host=action.target)
                if a.target == action.target]
        try:
            ok, why = self.room_check(action, incoming)
        except Exception:
            self.count('callback_errors')
            LOG.exception('Executor: room_check failed for action %s',
                          action.uuid)
            return False, 'the room check failed (see the log)'
        return bool(ok), why

    # -- 3. blocked actions ---------------------------------------------------

    def _note_blocked(self, action, reason):
        now = self.clock()
        since, before = self._blocked.get(action.uuid, (now, None))
        self._blocked[action.uuid] = (since, reason)
        # NOTE: once per reason: a pause holds actions for many scans
        LOG.log(logging.INFO if reason != before else logging.DEBUG,
                'Executor: action %s waits: %s', action.uuid, reason)
        if now - since < self.pending_timeout:
            return
        del self._blocked[action.uuid]
        why = ('action %s (instance %s, %s -> %s) blocked for %.0f s: %s'
               % (action.uuid, action.instance_uuid, action.source,
                  action.target, now - since, reason))
        if self.db.cancel_plan(action.plan_uuid, self.replica_id,
                               reason=why):
            self.count('plans_cancelled')
            LOG.warning('Executor: plan %s cancelled: %s', action.plan_uuid,
                        why)
            self._notify_finished(action, actuator_mod.MigrationResult(
                server=action.instance_uuid, target=action.target,
                source=action.source, host=action.source,
                status=NOT_STARTED, error=why))

    # -- the end of a migration -----------------------------------------------

    def _finish(self, action, result):
        state = plan_states.ACTION_STATE_FOR_NOVA_STATUS.get(result.status)
        if state is None:
            # the migration may still run: leave the action running, its
            # heartbeats stop, and it is taken over and followed again
            self.count('given_up' if result.given_up else 'unknown')
            LOG.warning('Executor: action %s left running (%s); followed '
                        'again after takeover_after (%s s)', action.uuid,
                        result.error, self.takeover_after)
            return
        if state != plan_states.ACTION_COMPLETED:
            # NOTE: before the action shows as finished, so a planner that
            # reads the failed action never re-plans the same pair between
            # the two writes; marking twice after a takeover is harmless
            self._mark_bad_pair(action, result, state)
        won = self._db_retry(
            'finish_action', self.db.finish_action, action.uuid,
            self.replica_id, state, error=result.error,
            nova_status=result.status, finished_at=result.finished_at)
        if not won:
            # False: taken over meanwhile, the new owner records it; None:
            # the database did not answer, it is taken over later
            self.count('lost' if won is False else 'unknown')
            return
        self.count(state)
        if result.note:
            self._db_retry('record_event', self.db.record_event,
                           self.replica_id, 'action.note', result.note,
                           object_uuid=action.uuid)
        if state != plan_states.ACTION_COMPLETED:
            self._cancel_rest_of_plan(action, result, state)
        self._db_retry('complete_plan', self.db.complete_plan,
                       action.plan_uuid, self.replica_id)
        self._notify_finished(action, result)
        # the next action of a chain, or a freed slot
        self.poke()

    def _mark_bad_pair(self, action, result, state):
        # NOTE: a pair is marked bad only when Nova had a say (a record,
        # or an HTTP answer): a request that never reached Nova, or a
        # Nova that could not be reached, says nothing about the pair
        nova_answered = (result.migration_id is not None
                         or result.http_status is not None)
        if action.target is not None and nova_answered:
            self._db_retry('mark_bad_pair', self.db.mark_bad_pair,
                           action.instance_uuid, action.target,
                           self.bad_pair_duration,
                           reason=result.error or state,
                           actor=self.replica_id)

    def _cancel_rest_of_plan(self, action, result, state):
        # the rest of the plan was made assuming this migration succeeds
        # (a make-room chain needs it): cancel what has not started, and
        # let the planner plan again from what is
        pending = self._db_retry(
            'list_actions', self.db.list_actions,
            plan_uuid=action.plan_uuid, state=plan_states.ACTION_PENDING)
        if pending:
            self._db_retry(
                'cancel_plan', self.db.cancel_plan, action.plan_uuid,
                self.replica_id,
                reason='action %s %s (%s); its %d pending action(s) were '
                       'planned assuming it would succeed'
                       % (action.uuid, state, result.error, len(pending)))

    def _notify_finished(self, action, result):
        if self.on_finished is None:
            return
        try:
            self.on_finished(action, result)
        except Exception:
            self.count('callback_errors')
            LOG.exception('Executor: on_finished failed for action %s',
                          action.uuid)

    def _db_retry(self, what, func, *args, **kwargs):
        """``func(...)`` under :func:`db_call_policy`; None if it failed."""
        def attempt():
            try:
                return func(*args, **kwargs)
            except DB_ERRORS:
                self.count('db_errors')
                raise

        policy = db_call_policy(what, self.sleep)
        try:
            return policy(attempt)
        except DB_ERRORS as e:
            LOG.error('Executor: %s failed (attempt %d of %d), giving up: '
                      '%s', what, policy.statistics['attempt_number'],
                      DB_ATTEMPTS, e)
            return None
