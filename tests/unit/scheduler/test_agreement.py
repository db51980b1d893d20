# SPDX-License-Identifier: Apache-2.0
"""The Nova scheduler filter and the planner agree on which hosts are hot.

One set of agent reports goes through the real parts on both sides: the
balancer's ``HostView`` takes them in, the ``Database`` (SQLite) stores
its ``host_states`` as a replica does, the scheduler's ``SchedulerState``
reads them back for the real ``DRSHotspotFilter`` with Nova's own
``HostState`` and ``RequestSpec`` objects, and the real ``Planner`` plans
on the model the same view fills. Every host the planner moves load off
must be one the filter rejects, and no destination it picks may be one
the filter rejects for the instance moving there: otherwise Nova refuses
the live migration (issue 14: the planner judged a destination by its
guests' demand while its agent, and so the filter, found it hot).
"""

from nova import objects
from nova.scheduler import filters as nova_filters

from nova_drs.balancer.planning import planner as planner_mod
from nova_drs.balancer.view import host_view
from nova_drs.scheduler import filters
from tests.unit.balancer import test_host_view as docs
from tests.unit import clusters
from tests.unit.scheduler import base

#: host -> (CPU load its agent reports, resources it flags, its [drs]
#: thresholds); the model's hosts have 10 cores
AGENTS = {
    # busy guests (8 cores) and 1 core of its own: hot
    'compute-1': (0.9, ('cpu',), docs.THRESHOLDS),
    # the end-to-end failure: one idle guest, but the host is at 1.0
    'compute-2': (1.0, ('cpu',), docs.THRESHOLDS),
    # one spike above the threshold: its agent does not flag it (yet)
    'compute-3': (0.95, (), docs.THRESHOLDS),
    # flagged, but back to 0.3: cooling
    'compute-4': (0.3, ('cpu',), docs.THRESHOLDS),
    # room
    'compute-5': (0.2, (), docs.THRESHOLDS),
    # its agent judges CPU hot above 0.6: at 0.7 it is hot
    'compute-7': (0.7, ('cpu',), (0.6, 0.9, 0.9, 0.9)),
}
#: a host whose agent fell silent, and one whose agent cannot read its
#: guests
STALE, DOWN = 'compute-6', 'compute-8'
HOSTS = sorted(list(AGENTS) + [STALE, DOWN])

#: instance -> (host, vCPUs, CPU use of its vCPUs)
GUESTS = {
    docs.U1: ('compute-1', 4, 1.0), docs.U2: ('compute-1', 4, 1.0),
    docs.U3: ('compute-2', 2, 0.01),
    docs.U4: ('compute-3', 2, 0.5),
    docs.U5: ('compute-4', 2, 0.5),
    docs.U6: ('compute-5', 1, 0.1),
    docs.U7: ('compute-7', 2, 1.0), docs.U8: ('compute-7', 4, 0.75),
    docs.U9: (DOWN, 1, 0.1),
}


def spec(instance_uuid):
    """The RequestSpec of a live migration of ``instance_uuid``."""
    return objects.RequestSpec(
        flavor=objects.Flavor(vcpus=1, memory_mb=512, root_gb=1,
                              ephemeral_gb=0, swap=0, extra_specs={}),
        num_instances=1, scheduler_hints={},
        instance_uuid=instance_uuid, project_id='project')


class TestFilterAndPlannerAgree(base.SchedulerDataTestCase):

    def setUp(self):
        super().setUp()
        self.mono = docs.Clock(100.0)
        self.wall = docs.Clock(docs.T0)
        self.balancer_conf = clusters.conf(
            drs_balancer__mode='manual', drs_balancer__instance_cooldown=0,
            drs_listener__stale_after=30.0)
        self.view = host_view.HostView(self.balancer_conf, clock=self.mono,
                                       wall_clock=self.wall)

    def send(self, host, load, hotspot=(), thresholds=docs.THRESHOLDS,
             **kwargs):
        guests = [docs.guest_doc(uuid, cpu=cpu, mem=500.0, vcpus=vcpus)
                  for uuid, (where, vcpus, cpu) in sorted(GUESTS.items())
                  if where == host]
        doc = docs.metrics_doc(host, at=self.wall.now, guests=guests,
                               load=(load, 0.1, 0.0, 0.0), hotspot=hotspot,
                               thresholds=thresholds, **kwargs)
        self.view.on_metrics([docs.report(doc, self.mono.now)])

    def agents_report(self):
        self.send(STALE, 0.0)
        self.mono.now += 31
        self.wall.now += 31
        self.send(DOWN, 0.99, hotspot=('cpu',), libvirt_connected=False)
        for host, (load, hot, thresholds) in AGENTS.items():
            self.send(host, load, hot, thresholds)

    def model(self):
        return clusters.model(
            [clusters.host(h) for h in HOSTS],
            [clusters.vm(uuid, host, vcpus=vcpus, util=0.0, mem=500,
                         memory_mb=2048)
             for uuid, (host, vcpus, _cpu) in sorted(GUESTS.items())])

    def rejected(self, instance_uuid):
        """The hosts the filter rejects for a move of ``instance_uuid``."""
        nova_hosts = [base.nova_host(h) for h in HOSTS]
        kept = nova_filters.HostFilterHandler().get_filtered_objects(
            [filters.DRSHotspotFilter(self.state)], nova_hosts,
            spec(instance_uuid), index=0)
        return set(HOSTS) - {h.host for h in kept}

    def test_filter_and_planner_judge_the_same_hosts_hot(self):
        self.agents_report()
        # the owning replica writes the state; the scheduler reads it
        self.db.save_host_states(self.view.hosts(), 'replica-a')
        self.state.refresh()
        # the planner plans on the model the same view fills
        model = self.model()
        self.view.apply(model)
        planner = planner_mod.Planner(self.balancer_conf, self.db,
                                      'replica-a')
        result = planner.run(planner_mod.CycleInput(
            model=model, owned=frozenset(HOSTS)))
        plan = result.plan

        hot = {'compute-1', 'compute-2', 'compute-4', 'compute-7'}
        # not vacuous: both hot hosts it can relieve get moves, to the
        # one host with room
        self.assertEqual({'compute-1', 'compute-7'},
                         {m.source for m in plan.migrations})
        self.assertEqual({'compute-5'}, {m.target for m in plan.migrations})
        self.assertEqual(['compute-2'], plan.unresolved)
        self.assertEqual(['compute-4'], plan.cooling)
        for move in plan.migrations:
            rejected = self.rejected(move.instance)
            self.assertEqual(hot, rejected)
            self.assertIn(move.source, rejected, move)
            self.assertNotIn(move.target, rejected, move)
        # the planner's hot hosts are the filter's: sources, the ones it
        # could not relieve and the cooling ones
        self.assertEqual(
            self.rejected(docs.U1),
            {m.source for m in plan.migrations} | set(plan.unresolved)
            | set(plan.cooling))
        # and what the API shows is the same state
        rows = {row.host: row for row in self.db.list_host_states()}
        self.assertEqual(hot, {h for h, row in rows.items()
                               if row.hot and not row.stale})
