# SPDX-License-Identifier: Apache-2.0
"""nova-drs-balancer's parts, wired together, and its main loop.

::

    agents ──drs.host.*──> MetricsListener ──> HostView ──urgent──┐
    Nova ──versioned notifications──> NovaEventListener ──┐       │
                                                          v       v
    Nova/Placement <──read── Inventory <──invalidate── BalancerManager
                                                          │ main loop:
                          Coordinator (tooz): owned hosts │ plan, write
                                                          v host states
                                         Planner ──plans──> Database
                                                              │ applying
    Nova <──live migrations── Actuator <── Executor <─────────┘

The main loop runs a planning cycle every ``[drs_balancer]
planning_interval`` seconds, and at once when an agent reports a new
hotspot (``HostView`` urgent callback), when a migration failed, when the
replicas' membership changed or when Nova says a compute service changed
(a host may have gone into maintenance). With ``[drs_balancer]
consolidation_interval`` it also runs a consolidation pass that often
(:meth:`BalancerManager.consolidation_cycle`), disables the nova-compute
service of hosts a consolidation plan emptied when ``disable_freed_hosts``
is set, and enables one again when a hotspot needs its room
(:mod:`nova_drs.balancer.planning.consolidation`). It writes the state of the
hosts this replica owns to the database every ``host_state_interval`` seconds
(for the scheduler plugin and the API), with its own report (mode in
effect, strategy, latest cycle: ``replica_states``), and purges old
history once a day.

Each cycle first reads what operators set through the API
(:meth:`nova_drs.db.api.Database.balancer_settings`): the mode, which
replaces ``[drs_balancer] mode`` once set, whether automatic balancing is
paused (then the cycle makes no plan; operators' plan requests are still
carried out) and which hosts are paused (fenced off by the planner).

Everything that talks to Nova, the broker, the database or the
coordination backend may fail at any time: each failure is logged and the
loop carries on at its next turn; nothing here ends the service but
:meth:`BalancerManager.stop`.
"""

import collections
import dataclasses
import datetime
import os
import resource
import socket
import threading
import time

import numpy as np
from oslo_log import log as logging

from nova_drs.balancer import clients
from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.coordination import shared_state
from nova_drs.balancer.intake import listener as listener_mod
from nova_drs.balancer.intake import partitions as partitions_mod
from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import consolidation
from nova_drs.balancer.planning import planner as planner_mod
from nova_drs.balancer.planning import requests as requests_mod
from nova_drs.balancer.view import capacity as capacity_mod
from nova_drs.balancer.view import host_view as host_view_mod
from nova_drs.balancer.view import inventory as inventory_mod
from nova_drs.balancer.view import nova_view
from nova_drs.db import api as db_api
from nova_drs.db import control
from nova_drs.db import host_state_cache
from nova_drs.db import migration as db_migration
from nova_drs.db import models
from nova_drs.model import cluster
from nova_drs import periodic
from nova_drs import version

LOG = logging.getLogger(__name__)

#: why the main loop woke up (the origin of the plans it makes)
WAKE_HOTSPOT = models.ORIGIN_HOTSPOT
WAKE_REPLAN = 'replan'

#: seconds between two purges of old history
PURGE_INTERVAL = 24 * 3600.0
#: the purge forgets the rows of replicas silent for this long (they
#: stopped without removing their row); the API shows them stale long
#: before, after ``[drs_api] host_stale_after``
REPLICA_FORGET_AFTER = 24 * 3600.0


class ServiceError(Exception):
    """The balancer cannot start (a clear message for the operator)."""


def check_schema(db):
    """Refuse to run on a database that ``db sync`` has not brought up."""
    current = db_migration.version_engine(db.engine)
    newest = db_migration.head()
    if current != newest:
        raise ServiceError(
            'the nova-drs database is at schema revision %s, this '
            'nova-drs needs %s: run nova-drs-manage db sync'
            % (current or 'none (empty database)', newest))


class BalancerManager:
    """One balancer replica.

    :param conf: the loaded configuration
    :param conn: an openstacksdk connection (default: from ``[drs_nova]``)
    :param db: a Database (default: from ``[drs_database]``)
    :param transport: the agents' oslo.messaging notification transport
        (default: from ``transport_url``)
    :param nova_transport: Nova's (default: from ``[drs_listener]
        nova_transport_url``, else ``transport_url``)
    """

    def __init__(self, conf, conn=None, db=None, transport=None,
                 nova_transport=None, clock=time.monotonic):
        # NOTE: imported here: both import oslo.messaging or the executor,
        # after the service chose native threads
        from nova_drs.balancer.execution import actuator as actuator_mod
        from nova_drs.balancer.execution import executor as executor_mod
        from nova_drs.balancer.intake import nova_events

        self.conf = conf
        self.clock = clock
        #: ``[drs_balancer] mode``, until an operator sets one
        self.configured_mode = conf.drs_balancer.mode
        #: what operators set, as last read (refresh_settings)
        self.settings = control.BalancerSettings()
        self.db = db or db_api.Database(conf)
        self.conn = conn or clients.connect(conf)
        partitions = conf.drs_listener.partitions
        if partitions and conf.drs_coordination.mode != \
                coordination.PARTITIONED:
            LOG.warning('[drs_listener] partitions is ignored in %s '
                        'coordination mode', conf.drs_coordination.mode)
            partitions = 0
        self.coordinator = coordination.Coordinator(conf,
                                                    partitions=partitions)
        self.replica_id = self.coordinator.member_id
        # two windows: consolidation packs by the guests' peaks over a
        # day, hotspot and balance judge destinations on the last
        # minutes (destination_peak_window; 0: not kept)
        self.view = host_view_mod.HostView(
            conf, peak_window_s=conf.drs_balancer.consolidation_peak_window,
            recent_window_s=conf.drs_balancer.destination_peak_window)
        self.services = consolidation.Services(self.conn)
        #: host -> consolidation state (empty, disabled) of the owned
        #: hosts, as the latest cycle saw them (for the host states)
        self.consolidation_states = {}
        # host -> when this replica disabled its service: the view of
        # Nova may not show it yet (it is read at most so often)
        self._disabled_at = {}
        self.collector = nova_view.NovaCollector(self.conn, conf)
        #: the other replicas' host states, read by their changes
        # without the balloon column, the largest (per guest): the other
        # replicas' hosts are judged by their loads and flags only
        # (shared_state.from_rows); a third of a replica's CPU went into
        # decoding it at 10,000 hosts
        # the other replicas' hosts: this replica's own rows are left out
        # (shared_state.from_rows would skip the hosts it owns anyway)
        self.host_states = host_state_cache.HostStateCache(
            conf.drs_balancer.host_state_full_read_interval, clock=clock,
            without=('balloon',), not_by=self.replica_id)
        self.inventory = inventory_mod.Inventory(self.collector, conf,
                                                 clock=clock)
        # (host_states rows, the database server's time) of the cycle's
        # read
        self._shared_rows = None
        # host -> the host_states values this replica last wrote
        self._written_states = {}
        #: rows of other replicas' hosts not trusted at the latest cycle,
        #: by reason (shared_state.from_rows)
        self.shared_left_out = {}
        self._gone_logged = 0
        if partitions and conf.drs_balancer.shared_capacity_max_age:
            # each replica reads from Placement the hosts it owns; the
            # others' capacities come with their host states
            self.collector.set_partial(
                lambda hosts: self.coordinator.owned_hosts(hosts),
                self._shared_capacities)
        self.planner = planner_mod.Planner(conf, self.db, self.replica_id)
        self.requests = requests_mod.RequestHandler(
            conf, self.db, self.planner, self.replica_id)
        # the listeners use the configured replica id only: a single
        # balancer without one reads the agents' default queue
        listener_replica = conf.drs_coordination.replica_id
        if partitions:
            # each replica reads the metrics of the hosts it owns only
            self.intake = partitions_mod.PartitionedIntake(
                conf, self.view, self.coordinator, transport=transport)
        else:
            self.intake = listener_mod.MetricsListener(
                conf, self.view, transport=transport,
                replica_id=listener_replica)
        self.nova_events = None
        if conf.drs_listener.nova_notifications:
            self.nova_events = nova_events.NovaEventListener(
                conf, self, transport=nova_transport,
                replica_id=listener_replica)
        self.actuator = actuator_mod.Actuator(self.conn, conf)
        self.executor = executor_mod.Executor(
            conf, self.db, self.actuator, self.coordinator,
            self.replica_id, room_check=self.room_check,
            on_finished=self._on_action_finished)

        self._wake_lock = threading.Lock()
        self._wake_reasons = set()
        #: runs the main loop's timers (run())
        self._runner = None
        self._model_lock = threading.Lock()
        self._model = None            # latest model with metrics applied
        self.cycles = 0
        self.cycle_errors = 0
        self.last_cycle = None        # summary dict of the latest cycle
        self._hosts_owned = 0         # hosts whose state it writes
        #: why the latest prepare_cycle had nothing to plan with
        self.idle_reason = None
        self.started_at = None        # naive UTC, for the replica report
        self._started = False
        self.view.add_urgent_callback(self._on_urgent)
        self.coordinator.add_listener(self._on_membership)

    # -- what operators set -------------------------------------------------

    @property
    def mode(self):
        """The mode the next cycle plans in."""
        return self.settings.effective_mode(self.configured_mode)

    def refresh_settings(self):
        """Read what operators set through the API; the new settings.

        Logs the changes this replica sees. Raises the database's errors
        (the caller decides: a cycle fails, a report is tried later).
        """
        new = self.db.balancer_settings()
        old, self.settings = self.settings, new
        who = ' (by %s%s)' % (new.updated_by,
                              ': %s' % new.reason if new.reason else '')
        if new.effective_mode(self.configured_mode) != \
                old.effective_mode(self.configured_mode):
            LOG.info('planning in %s mode from now on (%s)%s', self.mode,
                     'set by an operator' if new.mode
                     else '[drs_balancer] mode', who)
        if new.paused != old.paused:
            LOG.warning('automatic balancing %s%s',
                        'paused' if new.paused else 'resumed', who)
        for host in sorted(set(new.paused_hosts) ^ set(old.paused_hosts)):
            pause = new.paused_hosts.get(host)
            LOG.info('host %s %s', host,
                     'paused (by %s%s)' % (pause.updated_by,
                                           ': %s' % pause.reason
                                           if pause.reason else '')
                     if pause else 'resumed')
        return new

    # -- wiring ---------------------------------------------------------------

    def wake(self, reason):
        """Run a planning cycle now (from any thread; returns at once).

        After the cycle or timer in progress, if any: the main loop's work
        never runs concurrently. Before run(), the first cycle takes the
        reason.
        """
        with self._wake_lock:
            self._wake_reasons.add(reason)
        runner = self._runner
        if runner is not None:
            runner.run_soon(self._woken_cycle)

    def _take_reasons(self):
        with self._wake_lock:
            reasons, self._wake_reasons = self._wake_reasons, set()
        return reasons

    def _on_urgent(self, event):
        LOG.info('hotspot on %s (%s, from its agent\'s %s): planning now',
                 event.host, '/'.join(event.resources), event.source)
        self.wake(WAKE_HOTSPOT)

    def _on_membership(self, change):
        LOG.info('replica membership changed: %s', change)
        # partial reads: the hosts this replica now owns are read from
        # Placement at the next read, not at the next full one
        self.inventory.invalidate('replica membership changed')
        self.executor.poke()
        self.wake(WAKE_REPLAN)

    def _on_action_finished(self, action, result):
        self.inventory.invalidate('migration of %s ended'
                                  % action.instance_uuid)
        if not result.succeeded:
            LOG.info('migration of %s to %s ended %s: re-planning',
                     action.instance_uuid, action.target, result.status)
            self.wake(WAKE_REPLAN)

    def on_nova_events(self, events):
        """Nova's versioned notifications (NovaEventHandler)."""
        kinds = {e.kind for e in events}
        # servers created, deleted, moved: applied to the view; a read of
        # what changed for the others
        self.inventory.apply_events(events)
        if 'migration' in kinds:
            self.executor.poke()
        if any(e.event_type.startswith('service.') for e in events):
            # a host disabled, enabled or put in maintenance
            self.wake(WAKE_REPLAN)

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        """Connect everything; raises ServiceError when it cannot start."""
        check_schema(self.db)
        self.refresh_settings()
        self.started_at = self.db.now()
        self.coordinator.start()
        self.intake.start()
        if self.nova_events is not None:
            self.nova_events.start()
        self.executor.start()
        self._started = True
        self.db.record_event(self.replica_id, 'balancer.started',
                             'replica %s started in %s mode'
                             % (self.replica_id, self.mode),
                             detail={'mode': self.mode,
                                     'mode_source':
                                     self.settings.mode_source,
                                     'paused': self.settings.paused,
                                     'strategy':
                                     self.conf.drs_balancer.strategy})
        self._guard('writing the replica report', self.report)
        LOG.info('nova-drs-balancer %s started: mode %s (%s), strategy %s, '
                 'planning every %d s%s', self.replica_id, self.mode,
                 self.settings.mode_source, self.conf.drs_balancer.strategy,
                 self.conf.drs_balancer.planning_interval,
                 '; automatic balancing is PAUSED' if self.settings.paused
                 else '')

    def stop(self):
        """Stop listening, planning and starting migrations.

        Migrations already in Nova go on; their actions stay ``running``
        in the database and are taken over by the replica that owns their
        hosts next (this one, after a restart).
        """
        for name, part in (('executor', self.executor),
                           ('Nova notification listener', self.nova_events),
                           ('metrics listener', self.intake),
                           ('coordinator', self.coordinator)):
            if part is None:
                continue
            try:
                part.stop()
            except Exception:
                LOG.exception('stopping the %s failed', name)
        if self._started:
            # a clean stop: the status no longer lists this replica
            self._guard('removing the replica report',
                        self.db.delete_replica_state, self.replica_id)
        self.db.dispose()

    def run(self, stop_event):
        """The main loop, until ``stop_event`` is set.

        Returns once the cycle or timer in progress, if any, has ended.
        The timers (:mod:`nova_drs.periodic`) run one at a time in one
        thread, with the cycles :meth:`wake` asks for. NOTE: each runs
        its interval after the start of its previous run (it was after
        its end), and a cycle woken by a hotspot no longer puts the next
        periodic cycle off: a periodic cycle right after an urgent one
        finds the plans it made in flight.
        """
        opts = self.conf.drs_balancer
        tasks = [
            periodic.Task(self._periodic_cycle, opts.planning_interval,
                          run_immediately=True, name='the planning cycle'),
            periodic.Task(self._process_requests,
                          opts.request_poll_interval, run_immediately=True,
                          name='the plan requests'),
            periodic.Task(self._write_states, opts.host_state_interval,
                          name='the host states'),
            # at start (it was a minute after), then daily: a replica
            # restarted more often still purges
            periodic.Task(self._purge, PURGE_INTERVAL, run_immediately=True,
                          name='the purge'),
        ]
        if opts.consolidation_interval:
            tasks.append(periodic.Task(self.consolidation_cycle,
                                       opts.consolidation_interval,
                                       name='the consolidation pass'))
        self._runner = periodic.Periodic('drs-balancer', tasks)
        self._runner.start()
        try:
            stop_event.wait()
        finally:
            runner, self._runner = self._runner, None
            runner.stop()
            runner.wait()

    def _periodic_cycle(self):
        reasons = self._take_reasons()
        self.cycle(models.ORIGIN_HOTSPOT if WAKE_HOTSPOT in reasons
                   else models.ORIGIN_PERIODIC)

    def _woken_cycle(self):
        reasons = self._take_reasons()
        if not reasons:
            # the cycle that ran meanwhile took them
            return
        self.cycle(models.ORIGIN_HOTSPOT if WAKE_HOTSPOT in reasons
                   else models.ORIGIN_PERIODIC)

    def _process_requests(self):
        self._guard('carrying out plan requests', self.process_requests)

    def _write_states(self):
        self._guard('writing host states', self.write_host_states)
        self._guard('writing the replica report', self.refresh_and_report)

    def _purge(self):
        self._guard('purging old history', self.purge)

    @staticmethod
    def _guard(what, func, *args):
        try:
            return func(*args)
        except Exception:
            LOG.exception('%s failed; trying again later', what)
            return None

    # -- planning -------------------------------------------------------------

    def _in_flight(self):
        applying = {p.uuid for p in self.db.list_plans(
            state=plan_states.PLAN_APPLYING)}
        actions = self.db.list_actions(
            state=(plan_states.ACTION_RUNNING, plan_states.ACTION_PENDING))
        return [a for a in actions
                if a.state == plan_states.ACTION_RUNNING
                or a.plan_uuid in applying]

    def _smoothed_loads(self):
        # the agents' smoothed loads, for the severe check; a host whose
        # libvirtd is down is unavailable, not hot
        return {name: dict(state.smoothed)
                for name, state in self.view.hosts().items()
                if not state.stale and state.libvirt_connected}

    def _idle(self, reason):
        self.idle_reason = reason
        return None

    def prepare_cycle(self):
        """Everything a planning cycle needs, or None (nothing to do).

        Reads the operators' settings first (raises when the database
        cannot be read); ``idle_reason`` says why there is nothing.
        """
        self.idle_reason = None
        if not self.coordinator.is_active():
            LOG.debug('no lease on the coordination group: not planning')
            return self._idle('no lease on the coordination group')
        settings = self.refresh_settings()
        rows = None
        if self.coordinator.partitions:
            # before the read of Nova: the capacities other replicas
            # shared are in these rows (_shared_capacities)
            rows = self.host_states.read(self.db)
            # the rows are aged by the clock they were stamped with, the
            # database server's (shared_state): read once per cycle
            self._shared_rows = (rows, self.db.server_now())
        try:
            nova = self.inventory.get()
        except inventory_mod.InventoryUnavailable as e:
            LOG.error('not planning: %s', e)
            return self._idle('no view of Nova')
        model = nova.model.copy()
        if rows is not None:
            self._share_states(model.hosts.names, rows)
        self.view.apply(model)
        self.view.prune(model.hosts.names)
        with self._model_lock:
            self._model = model
        owned = frozenset(self.coordinator.owned_hosts(model.hosts.names))
        if not owned:
            return self._idle('no host owned')
        in_flight = self._in_flight()
        bad = self.db.bad_pairs()
        disabled = {name: info.disabled_reason
                    for name, info in nova.hosts.items()
                    if getattr(info, 'disabled_reason', None)}
        return planner_mod.CycleInput(
            model=model, owned=owned, in_flight=in_flight, bad_pairs=bad,
            loads=self._smoothed_loads(), disabled_reasons=disabled,
            mode=settings.mode,
            paused_hosts=frozenset(settings.paused_hosts))

    def _shared_capacities(self):
        """host -> Capacity other replicas shared, recent enough to use."""
        if self._shared_rows is None:
            return {}
        rows, db_now = self._shared_rows
        return capacity_mod.from_rows(
            rows, db_now, self.conf.drs_balancer.shared_capacity_max_age)

    def _share_states(self, names, rows):
        """Partitioned intake: other replicas' hosts, from the database.

        This replica gets the metrics of its own hosts only; the others
        are judged as destinations by the compact state their owners write
        to ``host_states``
        (:mod:`nova_drs.balancer.coordination.shared_state`). What it still
        holds of hosts it no longer owns (their guests' metrics) is forgotten.
        """
        owned = self.coordinator.owned_hosts(names)
        if owned:
            for name in set(self.view.hosts()) - owned:
                self.view.forget(name)
        left_out = collections.Counter()
        self.view.set_shared(shared_state.from_rows(
            rows, owned, self._shared_rows[1], self.view.stale_after,
            members=self.coordinator.members, left_out=left_out))
        self.shared_left_out = dict(left_out)
        gone = left_out['gone']
        if gone != self._gone_logged:
            # once per change, not per cycle: the operator should know
            # that hosts are no destination because their owner is gone
            self._gone_logged = gone
            if gone:
                LOG.warning('%d host state row(s) written by replicas '
                            'that are no longer members of the '
                            'coordination group are not trusted: those '
                            'hosts are no destination until their new '
                            'owner writes them', gone)

    def cycle(self, origin=models.ORIGIN_PERIODIC):
        """One planning cycle; never raises.

        :returns: the planner's CycleResult, or None when nothing was
            planned (no view, no lease, balancing paused, or an error;
            ``last_cycle`` says which)
        """
        started = time.monotonic()
        started_at = self.db.now()
        result, skipped, failed = None, None, False
        try:
            cycle_input = self.prepare_cycle()
            if cycle_input is None:
                skipped = self.idle_reason
            elif self.settings.paused:
                skipped = 'automatic balancing is paused'
                LOG.info('%s cycle: automatic balancing is paused: no '
                         'plan', origin)
            else:
                result = self.planner.run(cycle_input, origin)
                self._guard('handling hosts freed by consolidation',
                            self.handle_freed_hosts, cycle_input, result)
        except Exception:
            failed = True
            self.cycle_errors += 1
            LOG.exception('planning cycle failed; trying again at the '
                          'next one')
        else:
            self.cycles += 1
        self.last_cycle = cycle_summary(
            origin, self.mode, started_at, time.monotonic() - started,
            result, skipped, failed)
        self._guard('writing the replica report', self.report)
        if result is None:
            return None
        if result.applied:
            self.executor.poke()
        if result.applied or result.recommended:
            LOG.info('%s cycle (%s mode): %d migration(s) planned; plans '
                     'applied: %s; recommended: %s (%.2f s)', origin,
                     self.last_cycle['mode'],
                     self.last_cycle['migrations'],
                     ', '.join(result.applied) or '-',
                     ', '.join(result.recommended) or '-',
                     self.last_cycle['duration_s'])
        return result

    def consolidation_cycle(self):
        """One consolidation pass; never raises.

        Under the same rules as a planning cycle (lease, pause, the mode),
        and only once the peaks cover a whole ``consolidation_peak_window``
        of this replica's watch: peaks it has not seen would pack hosts
        for a quiet hour only.

        :returns: the planner's CycleResult, or None
        """
        window = self.conf.drs_balancer.consolidation_peak_window
        watched = self.view.peaks.history_s(self.clock())
        if watched < window:
            LOG.info('consolidation pass: waiting until the guests\' '
                     'peak load covers %d s (%d s so far)', window, watched)
            return None
        result = None
        try:
            cycle_input = self.prepare_cycle()
            if cycle_input is None:
                LOG.debug('consolidation pass: %s', self.idle_reason)
            elif self.settings.paused:
                LOG.info('consolidation pass: automatic balancing is '
                         'paused: no plan')
            else:
                result = self.planner.consolidate(cycle_input)
                self._guard('handling hosts freed by consolidation',
                            self.handle_freed_hosts, cycle_input, result)
        except Exception:
            LOG.exception('consolidation pass failed; trying again at the '
                          'next one')
            return None
        if result is not None and result.applied:
            self.executor.poke()
        return result

    def handle_freed_hosts(self, cycle_input, result):
        """Nova services of hosts consolidation freed, after a cycle.

        Enables the hosts the plan needs room on (nova-drs disabled them);
        with ``disable_freed_hosts``, disables the owned hosts a
        consolidation plan emptied; notes every owned host's consolidation
        state for the host states. Each Nova call that fails is logged
        and tried again at the next cycle.
        """
        model = cycle_input.model
        reasons = dict(cycle_input.disabled_reasons)
        changed = False
        for host in result.enable_hosts if result is not None else ():
            try:
                self.services.enable(host)
            except Exception:
                LOG.exception('enabling the service of %s failed', host)
                continue
            changed = True
            reasons.pop(host, None)
            self._enabled_in_model(host)
            self.db.record_event(self.replica_id,
                                 consolidation.EVENT_ENABLED,
                                 'host %s enabled again: a hotspot needs '
                                 'room' % host, detail={'host': host})
        for host in result.hosts_wanted if result is not None else ():
            self.db.record_event(self.replica_id, consolidation.EVENT_WANTED,
                                 'host %s (emptied by consolidation) could '
                                 'relieve a hotspot but does not report: '
                                 'power it on' % host, detail={'host': host})
        now = self.clock()
        recent = self.conf.drs_balancer.inventory_refresh_interval
        self._disabled_at = {h: t for h, t in self._disabled_at.items()
                             if now - t < recent and h not in reasons}
        if self.conf.drs_balancer.disable_freed_hosts:
            sources = consolidation.consolidation_sources(self.db)
            for host in consolidation.to_disable(
                    model, cycle_input.owned, cycle_input.in_flight,
                    reasons, sources):
                if host in self._disabled_at:
                    reasons[host] = consolidation.DISABLED_REASON
                    continue
                if consolidation.already_disabled(self.db, host,
                                                  sources[host]):
                    continue
                try:
                    self.services.disable(host)
                except Exception:
                    LOG.exception('disabling the service of %s failed',
                                  host)
                    continue
                changed = True
                reasons[host] = consolidation.DISABLED_REASON
                self._disabled_at[host] = now
                self.db.record_event(
                    self.replica_id, consolidation.EVENT_DISABLED,
                    'host %s runs no guest: service disabled (%s), it can '
                    'be powered off' % (host, consolidation.DISABLED_REASON),
                    object_uuid=sources[host], detail={'host': host})
        if changed:
            self.inventory.invalidate('services changed by consolidation')
        self.consolidation_states = consolidation.host_states(
            model, cycle_input.owned, cycle_input.in_flight, reasons)

    def _enabled_in_model(self, host):
        # the executor's destination check reads this model: the host
        # may receive before the next read of Nova
        with self._model_lock:
            model = self._model
            if model is not None and host in model.host_index:
                model.hosts.disabled[model.host_index[host]] = False

    def process_requests(self):
        """Carry out the operators' pending plan requests (API)."""
        if not self.coordinator.is_active():
            return
        timeout = self.conf.drs_balancer.request_claim_timeout
        self.db.release_stale_plan_requests(
            self.db.now() - datetime.timedelta(seconds=timeout))
        applied = self.requests.process(self.prepare_cycle,
                                        self.coordinator.owns)
        if applied:
            self.executor.poke()

    # -- the executor's destination check --

    def room_check(self, action, incoming):
        """May ``action`` start now? ``(ok, why not)``.

        Checked under the destination's lock right before the request, on
        the destination's state as its agent reports it now (the state
        the Nova scheduler filter reads too): the destination must be a
        known, enabled host reporting current metrics with its guests
        readable, its agent must not flag it hot, and its measured load
        (the agent's smoothed load, and at least its guests' demand, as
        the planner's model counts it) with this instance and the ones
        already on their way to it (which its measured load does not
        show yet) must stay at or below each of its thresholds (its
        agent's). Nova's scheduler checks Placement capacity itself.
        """
        target = action.target
        if target is None:
            return True, ''
        with self._model_lock:
            model = self._model
        if model is None:
            return False, 'no view of the cluster yet'
        t = model.host_index.get(target)
        if t is None:
            return False, 'destination %s is not a known compute host' % (
                target)
        state = self.view.host(target)
        if state is None or state.stale:
            return False, 'destination %s sends no current metrics' % target
        if not state.libvirt_connected:
            return False, ('the agent of destination %s cannot read its '
                           'guests' % target)
        if model.hosts.disabled[t]:
            return False, 'destination %s is disabled' % target
        if state.hot:
            return False, ('destination %s is hot (%s): its agent says so, '
                           'and Nova\'s scheduler filter would refuse it'
                           % (target, '/'.join(state.hot)))
        capacity = model.capacity()[t]
        measured = capacity * np.array(
            [state.smoothed[r] for r in cluster.RESOURCES])
        demand = np.maximum(measured, model.guest_demand()[t])
        inst_demand = model.instance_demand()
        for other in list(incoming) + [action]:
            i = model.instance_index.get(other.instance_uuid)
            if i is not None and model.instances.host[i] != t:
                demand += inst_demand[i]
        thresholds = np.array([state.thresholds[r]
                               for r in cluster.RESOURCES])
        limit = np.where(capacity > 0, capacity * thresholds, np.inf)
        over = [cluster.RESOURCES[r] for r in range(len(cluster.RESOURCES))
                if demand[r] > limit[r] + 1e-9]
        if over:
            return False, ('destination %s would be above its %s '
                           'threshold(s) with %d incoming migration(s)'
                           % (target, '/'.join(over), len(incoming) + 1))
        return True, ''

    # -- state for the scheduler plugin and the API --

    def write_host_states(self):
        """Store the owned hosts' state (loads, hotspots, staleness)."""
        states = self.view.hosts()
        owned = self.coordinator.owned_hosts(states)
        freed = self.consolidation_states
        # what this replica read of its hosts in Placement, for the others
        # (empty unless it read them itself: nothing second-hand is shared)
        capacities = self.collector.own_capacities()
        mine = [dataclasses.replace(
            state, consolidation=freed.get(name),
            capacity=(capacities[name].as_dict() if name in capacities
                      else None))
                for name, state in states.items() if name in owned]
        self._hosts_owned = len(mine)
        if mine:
            # rows unchanged since this replica last wrote them are only
            # stamped again (save_host_states): most of them, when the
            # agents report less often than this runs
            self.db.save_host_states(mine, self.replica_id,
                                     written=self._written_states)
        with self._model_lock:
            model = self._model
        if model is not None and owned:
            # hosts Nova no longer has; each replica forgets its own
            self.db.delete_host_states(keep=model.hosts.names)

    def report(self):
        """Write this replica's row of ``replica_states`` (a heartbeat)."""
        self.db.report_replica(
            self.replica_id, host=socket.gethostname(), pid=os.getpid(),
            version=version.version_info.version_string(), mode=self.mode,
            mode_source=self.settings.mode_source,
            strategy=self.conf.drs_balancer.strategy,
            paused=self.settings.paused,
            started_at=self.started_at or self.db.now(),
            cycles=self.cycles, cycle_errors=self.cycle_errors,
            last_cycle=self.last_cycle, work=self.work())

    def work(self):
        """This replica's counters, for its report (``replica_states``).

        Cumulative since it started, so that a reader gets rates from two
        reports: metrics notifications taken in (accepted, per event type)
        and dropped, what it owns (intake partitions, hosts with a state),
        Nova/Placement reads and API calls, the live migrations it follows
        now, its CPU seconds and resident memory. They show whether the
        replicas divide the work.
        """
        intake = self.intake.stats()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        work = {
            'accepted': dict(intake.get('accepted', {})),
            'dropped': sum(intake.get('dropped', {}).values()),
            'hosts_owned': self._hosts_owned,
            'nova_reads': self.inventory.reads,
            'nova_full_reads': self.inventory.full_reads,
            'nova_calls': self.inventory.calls,
            # reads of the other replicas' host states (partitioned
            # intake): rows and about how many bytes they transferred
            'host_state_reads': self.host_states.counters['reads'],
            'host_state_full_reads': self.host_states.counters['full_reads'],
            'host_state_rows': self.host_states.counters['rows'],
            'host_state_bytes': self.host_states.counters['bytes'],
            # live migrations it follows now
            'migrations_following': len(self.executor.in_progress()),
            'cpu_s': round(usage.ru_utime + usage.ru_stime, 3),
            'rss_mb': _rss_mb(),
        }
        partitions = intake.get('partitions')
        if partitions:
            work['partitions_owned'] = len(partitions.get('owned', ()))
            work['partitions'] = partitions.get('count')
        return work

    def refresh_and_report(self):
        """Read the settings again, then report.

        So the report shows the mode the next cycle will plan in, even
        between cycles.
        """
        self.refresh_settings()
        self.report()

    def purge(self):
        now = self.db.now()
        before = now - datetime.timedelta(
            days=self.conf.drs_balancer.history_days)
        counts = self.db.purge(before, replicas_before=now - datetime.
                               timedelta(seconds=REPLICA_FORGET_AFTER))
        LOG.info('purged history older than %s: %s', before.date(), counts)

    def status(self):
        """A summary for logs and the API."""
        return {
            'replica': self.replica_id,
            'mode': self.mode,
            'mode_source': self.settings.mode_source,
            'paused': self.settings.paused,
            'paused_hosts': sorted(self.settings.paused_hosts),
            'strategy': self.conf.drs_balancer.strategy,
            'active': self.coordinator.is_active(),
            'members': sorted(self.coordinator.members),
            'cycles': self.cycles,
            'cycle_errors': self.cycle_errors,
            'last_cycle': self.last_cycle,
            'inventory_age_s': self.inventory.age(),
            'inventory_reads': self.inventory.reads,
            'inventory_failures': self.inventory.failures,
            # what the latest read of Nova cost, API calls by kind
            'inventory': self.inventory.stats(),
            # what reading the other replicas' host states cost
            'host_states': self.host_states.stats(),
            # rows of other replicas' hosts not trusted, by reason
            'host_states_left_out': dict(self.shared_left_out),
            'metrics': self.intake.stats(),
            'executor': self.executor.stats(),
        }


def _rss_mb():
    """The process's resident memory now, MiB (None: not known)."""
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf('SC_PAGE_SIZE') / 1048576.0, 1)


def _isotime(value):
    return value.isoformat() + 'Z'


def cycle_summary(origin, mode, started_at, duration_s, result=None,
                  skipped=None, failed=False):
    """What a replica reports of its latest cycle (JSON-ready).

    :param started_at: naive UTC
    :param result: the planner's CycleResult (None: nothing planned)
    :param skipped: why nothing was planned (paused, no lease...)
    :param failed: the cycle raised (see the log)
    """
    finished_at = started_at + datetime.timedelta(seconds=duration_s)
    return {
        'origin': origin,
        'mode': mode,
        'started_at': _isotime(started_at),
        'finished_at': _isotime(finished_at),
        'duration_s': round(duration_s, 6),
        'migrations': (len(result.plan.migrations)
                       if result is not None and result.plan else 0),
        'applied': list(result.applied) if result is not None else [],
        'recommended': (list(result.recommended) if result is not None
                        else []),
        'unresolved': len(result.unresolved) if result is not None else 0,
        'skipped': skipped,
        'failed': bool(failed),
    }
