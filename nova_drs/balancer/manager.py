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
(a host may have gone into maintenance). It writes the state of the hosts
this replica owns to the database every ``host_state_interval`` seconds
(for the scheduler plugin and the API), and purges old history once a
day. Everything that talks to Nova, the broker, the database or the
coordination backend may fail at any time: each failure is logged and the
loop carries on at its next turn; nothing here ends the service but
:meth:`BalancerManager.stop`.
"""

import datetime
import logging
import threading
import time

import numpy as np

from nova_drs.balancer import clients
from nova_drs.balancer import coordination
from nova_drs.balancer import host_view as host_view_mod
from nova_drs.balancer import inventory as inventory_mod
from nova_drs.balancer import listener as listener_mod
from nova_drs.balancer import nova_view
from nova_drs.balancer import planner as planner_mod
from nova_drs.balancer import requests as requests_mod
from nova_drs.db import api as db_api
from nova_drs.db import migration as db_migration
from nova_drs.db import models
from nova_drs.model import cluster

LOG = logging.getLogger(__name__)

#: why the main loop woke up (the origin of the plans it makes)
WAKE_HOTSPOT = models.ORIGIN_HOTSPOT
WAKE_REPLAN = 'replan'

#: seconds between two purges of old history
PURGE_INTERVAL = 24 * 3600.0


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
        from nova_drs.balancer import actuator as actuator_mod
        from nova_drs.balancer import executor as executor_mod
        from nova_drs.balancer import nova_events

        self.conf = conf
        self.clock = clock
        self.mode = conf.drs_balancer.mode
        self.db = db or db_api.Database(conf)
        self.conn = conn or clients.connect(conf)
        self.coordinator = coordination.Coordinator(conf)
        self.replica_id = self.coordinator.member_id
        self.view = host_view_mod.HostView(conf)
        self.inventory = inventory_mod.Inventory(self._collect, conf,
                                                 clock=clock)
        self.planner = planner_mod.Planner(conf, self.db, self.replica_id)
        self.requests = requests_mod.RequestHandler(
            conf, self.db, self.planner, self.replica_id)
        self.thresholds = cluster.thresholds_from_conf(conf)
        # the listeners use the configured replica id only: a single
        # balancer without one reads the agents' default queue
        listener_replica = conf.drs_coordination.replica_id
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

        self._wake = threading.Event()
        self._wake_lock = threading.Lock()
        self._wake_reasons = set()
        self._model_lock = threading.Lock()
        self._model = None            # latest model with metrics applied
        self._model_at = None
        self.cycles = 0
        self.cycle_errors = 0
        self.last_cycle = None        # summary dict of the latest cycle
        self._started = False
        self.view.add_urgent_callback(self._on_urgent)
        self.coordinator.add_listener(self._on_membership)

    # -- wiring ---------------------------------------------------------------

    def _collect(self):
        return nova_view.collect(self.conn, self.conf)

    def wake(self, reason):
        """Run a planning cycle now (from any thread; returns at once)."""
        with self._wake_lock:
            self._wake_reasons.add(reason)
        self._wake.set()

    def _take_reasons(self):
        with self._wake_lock:
            reasons, self._wake_reasons = self._wake_reasons, set()
        self._wake.clear()
        return reasons

    def _on_urgent(self, event):
        LOG.info('hotspot on %s (%s, from the %s): planning now',
                 event.host, '/'.join(event.resources), event.source)
        self.wake(WAKE_HOTSPOT)

    def _on_membership(self, change):
        LOG.info('replica membership changed: %s', change)
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
        self.inventory.invalidate(events[-1].event_type)
        if 'migration' in kinds:
            self.executor.poke()
        if any(e.event_type.startswith('service.') for e in events):
            # a host disabled, enabled or put in maintenance
            self.wake(WAKE_REPLAN)

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        """Connect everything; raises ServiceError when it cannot start."""
        check_schema(self.db)
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
                                     'strategy':
                                     self.conf.drs_balancer.strategy})
        LOG.info('nova-drs-balancer %s started: mode %s, strategy %s, '
                 'planning every %d s', self.replica_id, self.mode,
                 self.conf.drs_balancer.strategy,
                 self.conf.drs_balancer.planning_interval)

    def stop(self):
        """Stop listening, planning and starting migrations.

        Migrations already in Nova go on; their actions stay ``running``
        in the database and are taken over by the replica that owns their
        hosts next (this one, after a restart).
        """
        self._wake.set()
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
        self.db.dispose()

    def run(self, stop_event):
        """The main loop, until ``stop_event`` is set."""
        opts = self.conf.drs_balancer
        now = self.clock()
        next_plan = now
        next_states = now + opts.host_state_interval
        next_purge = now + 60.0
        next_requests = now
        while not stop_event.is_set():
            now = self.clock()
            timeout = max(0.0, min(next_plan, next_states, next_purge,
                                   next_requests) - now)
            self._wake.wait(timeout)
            if stop_event.is_set():
                break
            reasons = self._take_reasons()
            now = self.clock()
            if reasons or now >= next_plan:
                origin = (models.ORIGIN_HOTSPOT if WAKE_HOTSPOT in reasons
                          else models.ORIGIN_PERIODIC)
                self.cycle(origin)
                next_plan = self.clock() + opts.planning_interval
            if now >= next_requests:
                self._guard('carrying out plan requests',
                            self.process_requests)
                next_requests = self.clock() + opts.request_poll_interval
            if now >= next_states:
                self._guard('writing host states', self.write_host_states)
                next_states = self.clock() + opts.host_state_interval
            if now >= next_purge:
                self._guard('purging old history', self.purge)
                next_purge = self.clock() + PURGE_INTERVAL

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
            state=models.PLAN_APPLYING)}
        actions = self.db.list_actions(
            state=(models.ACTION_RUNNING, models.ACTION_PENDING))
        return [a for a in actions
                if a.state == models.ACTION_RUNNING
                or a.plan_uuid in applying]

    def _smoothed_loads(self):
        return {name: dict(state.smoothed)
                for name, state in self.view.hosts().items()
                if not state.stale}

    def prepare_cycle(self):
        """Everything a planning cycle needs, or None (nothing to do)."""
        if not self.coordinator.is_active():
            LOG.debug('no lease on the coordination group: not planning')
            return None
        try:
            nova = self.inventory.get()
        except inventory_mod.InventoryUnavailable as e:
            LOG.error('not planning: %s', e)
            return None
        model = nova.model.copy()
        self.view.apply(model)
        self.view.prune(model.hosts.names)
        with self._model_lock:
            self._model = model
            self._model_at = self.clock()
        owned = frozenset(self.coordinator.owned_hosts(model.hosts.names))
        if not owned:
            return None
        in_flight = self._in_flight()
        bad = self.db.bad_pairs()
        disabled = {name: info.disabled_reason
                    for name, info in nova.hosts.items()
                    if getattr(info, 'disabled_reason', None)}
        return planner_mod.CycleInput(
            model=model, owned=owned, in_flight=in_flight, bad_pairs=bad,
            loads=self._smoothed_loads(), disabled_reasons=disabled)

    def cycle(self, origin=models.ORIGIN_PERIODIC):
        """One planning cycle; never raises."""
        started = time.monotonic()
        try:
            cycle_input = self.prepare_cycle()
            if cycle_input is None:
                return None
            result = self.planner.run(cycle_input, origin)
        except Exception:
            self.cycle_errors += 1
            LOG.exception('planning cycle failed; trying again at the '
                          'next one')
            return None
        self.cycles += 1
        if result.applied:
            self.executor.poke()
        self.last_cycle = {
            'origin': origin, 'duration_s': time.monotonic() - started,
            'applied': list(result.applied),
            'recommended': list(result.recommended),
            'unresolved': list(result.unresolved),
            'migrations': len(result.plan.migrations) if result.plan else 0}
        if result.applied or result.recommended:
            LOG.info('%s cycle: %d migration(s) planned; plans applied: '
                     '%s; recommended: %s (%.2f s)', origin,
                     self.last_cycle['migrations'],
                     ', '.join(result.applied) or '-',
                     ', '.join(result.recommended) or '-',
                     self.last_cycle['duration_s'])
        return result

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

        Checked under the destination's lock right before the request:
        the destination must be reporting, enabled, and stay at or below
        every threshold with this instance and the ones already on their
        way to it (which its measured load does not show yet). Nova's
        scheduler checks Placement capacity itself.
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
        if self.view.is_stale(target):
            return False, 'destination %s sends no current metrics' % target
        if model.hosts.disabled[t]:
            return False, 'destination %s is disabled' % target
        inst_demand = model.instance_demand()
        demand = model.host_demand()[t].copy()
        for other in list(incoming) + [action]:
            i = model.instance_index.get(other.instance_uuid)
            if i is not None and model.instances.host[i] != t:
                demand += inst_demand[i]
        capacity = model.capacity()[t]
        limit = np.where(capacity > 0, capacity * self.thresholds, np.inf)
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
        mine = [state for name, state in states.items() if name in owned]
        if mine:
            self.db.save_host_states(mine, self.replica_id)
        with self._model_lock:
            model = self._model
        if model is not None and owned:
            # hosts Nova no longer has; each replica forgets its own
            self.db.delete_host_states(keep=model.hosts.names)

    def purge(self):
        before = self.db.now() - datetime.timedelta(
            days=self.conf.drs_balancer.history_days)
        counts = self.db.purge(before)
        LOG.info('purged history older than %s: %s', before.date(), counts)

    def status(self):
        """A summary for logs and the API."""
        return {
            'replica': self.replica_id,
            'mode': self.mode,
            'strategy': self.conf.drs_balancer.strategy,
            'active': self.coordinator.is_active(),
            'members': sorted(self.coordinator.members),
            'cycles': self.cycles,
            'cycle_errors': self.cycle_errors,
            'last_cycle': self.last_cycle,
            'inventory_age_s': self.inventory.age(),
            'inventory_reads': self.inventory.reads,
            'inventory_failures': self.inventory.failures,
            'metrics': self.intake.stats(),
            'executor': self.executor.stats(),
        }
