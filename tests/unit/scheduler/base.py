# SPDX-License-Identifier: Apache-2.0
"""Nova's real HostState and RequestSpec, and a nova-drs database.

Hosts are built as Nova's own scheduler tests build theirs
(``nova.tests.unit.scheduler.fakes.FakeHostState``: the real
``HostState`` with attributes set), here without the subclass; request
specs are real ``RequestSpec`` objects. The nova-drs data comes from a
migrated SQLite database written with the balancer's own
``Database.save_host_states``.
"""

from nova import objects
from nova.scheduler import host_manager
from oslo_config import cfg
from oslo_utils.fixture import uuidsentinel as uuids

from nova_drs.balancer import plan_states
from nova_drs.db import models
from nova_drs.scheduler import options
from nova_drs.scheduler import state as state_mod
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

objects.register_all()

HOSTS = ('fake-host-1', 'fake-host-2', 'fake-host-3')


def nova_host(host, node=None, **values):
    """A real ``nova.scheduler.host_manager.HostState``."""
    host_state = host_manager.HostState(host, node or host, uuids.cell1)
    values.setdefault('free_ram_mb', 8192)
    values.setdefault('vcpus_total', 16)
    for name, value in values.items():
        setattr(host_state, name, value)
    return host_state


def request_spec(rebuild=False, num_instances=1):
    """A real ``nova.objects.RequestSpec`` for a small flavor."""
    hints = {'_nova_check_type': ['rebuild']} if rebuild else {}
    return objects.RequestSpec(
        flavor=objects.Flavor(vcpus=1, memory_mb=512, root_gb=1,
                              ephemeral_gb=0, swap=0, extra_specs={}),
        num_instances=num_instances, scheduler_hints=hints,
        instance_uuid=uuids.instance, project_id=uuids.project)


class MonotonicClock(object):
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def make_conf(url, **overrides):
    conf = cfg.ConfigOpts()
    options.register(conf)
    conf([])
    conf.set_override('connection', url, group='drs_database')
    for name, value in overrides.items():
        conf.set_override(name, value, group='drs_scheduler')
    return conf


class SchedulerDataTestCase(db_base.SqliteTestCase):
    """``self.db`` (balancer side) and ``self.state`` (scheduler side).

    Both on one migrated SQLite file; ``self.clock`` is the database's
    wall clock (shared: no skew), ``self.mono`` the scheduler's monotonic
    clock.
    """

    def setUp(self):
        super().setUp()
        self.mono = MonotonicClock()
        # strict: tests see the filter's own decisions (the default lets
        # every host through when all would fail: test_filters)
        self.conf = make_conf(self.url, max_age=60.0, warning_interval=0.0,
                              pass_all_when_all_rejected=False)
        self.state = self.make_state()

    def make_state(self, **kwargs):
        kwargs.setdefault('clock', self.mono)
        kwargs.setdefault('wall_clock', self.clock)
        kwargs.setdefault('autostart', False)
        state = state_mod.SchedulerState(self.conf, **kwargs)
        self.addCleanup(state.stop)
        return state

    def advance(self, seconds):
        """Time passes for the balancer and the scheduler alike."""
        self.clock.advance(seconds)
        self.mono.advance(seconds)

    def report(self, hot=None, cpu=None, memory=None, stale=(),
               hosts=HOSTS):
        """Write the balancer's state of ``hosts``.

        :param hot: {host: hot resources}
        :param cpu: {host: smoothed CPU load}; memory likewise
        """
        hot, cpu, memory = hot or {}, cpu or {}, memory or {}
        states = []
        for host in hosts:
            state = test_host_states.host_state(
                host, hot=hot.get(host, ()), stale=host in stale)
            smoothed = dict(state.smoothed, cpu=cpu.get(host, 0.5),
                            memory=memory.get(host, 0.5))
            states.append(state.__class__(
                **dict(state.__dict__, smoothed=smoothed)))
        if self.clock.now == getattr(self, '_reported_at', None):
            # a real clock moves on between two writes (the scheduler
            # reads the rows stamped after those it read: HostStateCache)
            self.advance(0.000001)
        self._reported_at = self.clock.now
        self.db.save_host_states(states, 'replica-a')

    def reserve(self, target, count=1):
        """``count`` pending migrations to ``target`` of an applying plan."""
        plan = self.db.create_plan(db_base.make_plan(count, target=target),
                                   models.ORIGIN_HOTSPOT, 'replica-a',
                                   supersede=False)
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'replica-a')
        return plan
