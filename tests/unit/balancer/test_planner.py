# SPDX-License-Identifier: Apache-2.0
"""The planning cycle: working model, modes, evacuations, storage."""

import types

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer.planning import planner
from nova_drs.db import models
from tests.unit import clusters as c
from tests.unit.db import base


def hot_cluster(extra_hosts=()):
    """host-1 at CPU 0.9 (threshold 0.85); host-2 and host-3 idle."""
    hosts = [c.host('host-1'), c.host('host-2'), c.host('host-3')]
    hosts += [c.host(h) for h in extra_hosts]
    vms = [c.vm('a', 'host-1', vcpus=4, util=100.0, mem=3000,
                memory_mb=4000),
           c.vm('b', 'host-1', vcpus=4, util=100.0, mem=3000,
                memory_mb=4000),
           c.vm('small', 'host-1', vcpus=1, util=100.0, mem=500),
           c.vm('idle', 'host-2', vcpus=1, util=10.0, mem=500)]
    return c.model(hosts, vms)


def action(instance, target, source='host-1'):
    return types.SimpleNamespace(instance_uuid=instance, target=target,
                                 source=source)


ALL = frozenset(('host-1', 'host-2', 'host-3'))


class WorkingModelTest(base.SqliteTestCase):

    def test_hosts_of_other_replicas_are_pinned(self):
        model = hot_cluster()
        work = planner.working_model(model, frozenset(('host-2',)))
        pinned = dict(zip(work.instances.names, work.instances.opt_out))
        self.assertEqual({'a': True, 'b': True, 'small': True,
                          'idle': False}, pinned)
        # the model given is not changed
        self.assertFalse(model.instances.opt_out.any())

    def test_in_flight_instance_counts_on_its_destination(self):
        model = hot_cluster()
        work = planner.working_model(model, ALL,
                                     in_flight=[action('small', 'host-3')])
        i = work.instance_index['small']
        self.assertEqual(work.host_index['host-3'], work.instances.host[i])
        self.assertTrue(work.instances.opt_out[i])
        # host-1 is no longer hot once 'small' is counted on host-3
        strategy_plan = planner.Planner(
            c.conf(drs_balancer__mode='full'), self.db, 'r1').strategy.plan(
                work)
        self.assertEqual([], strategy_plan.migrations)

    def test_bad_pairs_are_excluded(self):
        for policy in ('spread', 'pack'):
            conf = c.conf(drs_balancer__mode='full',
                          drs_balancer__destination_policy=policy)
            p = planner.Planner(conf, self.db, 'r1')
            work = planner.working_model(hot_cluster(), ALL)
            first = p.strategy.plan(work).migrations
            self.assertEqual(1, len(first))
            bad = [(first[0].instance, first[0].target)]
            work = planner.working_model(hot_cluster(), ALL, bad_pairs=bad)
            second = p.strategy.plan(work).migrations
            self.assertEqual(1, len(second))
            self.assertNotIn((second[0].instance, second[0].target), bad)
            if policy == 'spread':
                # the cheapest instance still, to another host
                self.assertEqual(first[0].instance, second[0].instance)
                self.assertNotEqual(first[0].target, second[0].target)

    def test_paused_hosts_are_fenced_off(self):
        model = hot_cluster()
        work = planner.working_model(model, ALL, paused=('host-1',
                                                         'host-3'))
        disabled = dict(zip(work.hosts.names, work.hosts.disabled))
        self.assertEqual({'host-1': True, 'host-2': False, 'host-3': True},
                         disabled)
        pinned = dict(zip(work.instances.names, work.instances.opt_out))
        self.assertEqual({'a': True, 'b': True, 'small': True,
                          'idle': False}, pinned)
        self.assertFalse(model.hosts.disabled.any())


class SplitTest(base.SqliteTestCase):

    def test_make_room_moves_of_mandatory_moves_are_mandatory(self):
        plan = plan_mod.Plan('hotspot', migrations=[
            plan_mod.Migration('x', 'host-2', 'host-3', 'make room'),
            plan_mod.Migration('y', 'host-1', 'host-2', 'hotspot'),
            plan_mod.Migration('z', 'host-4', 'host-5', 'hotspot'),
        ])
        mandatory, optional = planner.split_mandatory(plan, {'host-1'})
        self.assertEqual(['x', 'y'],
                         [m.instance for m in mandatory.migrations])
        self.assertEqual(['z'], [m.instance for m in optional.migrations])

    def test_severe_hosts(self):
        conf = c.conf()
        self.assertEqual(
            {'h1': ['cpu'], 'h3': ['cpu', 'memory']},
            planner.severe_hosts({'h1': {'cpu': 0.96, 'memory': 0.5},
                                  'h2': {'cpu': 0.94, 'memory': 0.95},
                                  'h3': {'cpu': 0.99, 'memory': 0.97}},
                                 conf))

    def test_severe_threshold_below_hotspot_threshold_is_refused(self):
        conf = c.conf(drs_balancer__severe_cpu_threshold=0.8)
        e = self.assertRaises(planner.PlannerConfigError,
                              planner.Planner, conf, self.db, 'r1')
        self.assertIn('severe_cpu_threshold (0.8) must not be below [drs] '
                      'cpu_threshold', str(e))


class ModeTest(base.SqliteTestCase):

    def cycle(self, model=None, owned=ALL, **kw):
        return planner.CycleInput(model=model or hot_cluster(), owned=owned,
                                  **kw)

    def planner(self, mode, replica='r1'):
        return planner.Planner(c.conf(drs_balancer__mode=mode), self.db,
                               replica)

    def test_full_mode_applies(self):
        result = self.planner('full').run(self.cycle(),
                                          models.ORIGIN_HOTSPOT)
        self.assertEqual([], result.recommended)
        self.assertEqual(1, len(result.applied))
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual(plan_states.PLAN_APPLYING, plan.state)
        self.assertEqual(models.ORIGIN_HOTSPOT, plan.origin)
        self.assertEqual('r1', plan.created_by)
        self.assertEqual([('small', 'host-1', plan_states.ACTION_PENDING)],
                         [(a.instance_uuid, a.source, a.state)
                          for a in plan.actions])

    def test_nothing_hot_nothing_stored(self):
        model = c.model([c.host('host-1'), c.host('host-2')],
                        [c.vm('a', 'host-1')])
        result = self.planner('full').run(self.cycle(model))
        self.assertEqual(([], []), (result.applied, result.recommended))
        self.assertEqual([], self.db.list_plans())

    def test_manual_mode_recommends_once_and_supersedes_its_own(self):
        p = self.planner('manual')
        first = p.run(self.cycle())
        self.assertEqual([], first.applied)
        self.assertEqual(1, len(first.recommended))
        # the same plan again: not stored again
        again = p.run(self.cycle())
        self.assertEqual([], again.recommended)
        self.assertEqual(first.recommended, again.unchanged)
        self.assertEqual(1, len(self.db.list_plans()))
        # another replica's recommendation is left alone
        other = self.planner('manual', replica='r2').run(self.cycle())
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(first.recommended[0]).state)
        # a different plan supersedes this replica's own older one
        changed = p.run(self.cycle(bad_pairs={('small', 'host-3'): None,
                                              ('small', 'host-2'): None}))
        self.assertNotEqual(first.recommended, changed.recommended)
        self.assertEqual(plan_states.PLAN_SUPERSEDED,
                         self.db.get_plan(first.recommended[0]).state)
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(other.recommended[0]).state)

    def test_partial_mode_applies_only_severe_hotspots(self):
        p = self.planner('partial')
        mild = p.run(self.cycle(loads={'host-1': {'cpu': 0.90}}))
        self.assertEqual([], mild.applied)
        self.assertEqual(1, len(mild.recommended))
        severe = p.run(self.cycle(loads={'host-1': {'cpu': 0.97}}))
        self.assertEqual(1, len(severe.applied))
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(severe.applied[0]).state)

    def test_only_owned_sources_are_planned(self):
        result = self.planner('full').run(
            self.cycle(owned=frozenset(('host-2', 'host-3'))))
        self.assertEqual([], result.applied)
        # the hotspot is another replica's to report
        self.assertEqual([], result.unresolved)


class OperatorSettingsTest(ModeTest):
    """The mode and the paused hosts an operator set (CycleInput)."""

    def test_operator_mode_replaces_the_configured_one(self):
        p = self.planner('manual')
        result = p.run(self.cycle(mode='full'), models.ORIGIN_HOTSPOT)
        self.assertEqual(1, len(result.applied))
        plan = self.db.get_plan(result.applied[0])
        self.assertTrue(plan.applied_automatically)
        self.assertEqual('applied automatically (mode full)',
                         plan.state_reason)
        self.assertEqual('full', p.mode_of(self.cycle(mode='full')))
        self.assertEqual('manual', p.mode_of(self.cycle()))

    def test_operator_manual_mode_only_recommends(self):
        result = self.planner('full').run(self.cycle(mode='manual'))
        self.assertEqual([], result.applied)
        plan = self.db.get_plan(result.recommended[0])
        self.assertEqual(plan_states.PLAN_RECOMMENDED, plan.state)
        self.assertFalse(plan.applied_automatically)

    def test_paused_hot_host_is_not_relieved(self):
        result = self.planner('full').run(
            self.cycle(paused_hosts=frozenset(('host-1',))))
        self.assertEqual(([], []), (result.applied, result.recommended))
        self.assertEqual([], self.db.list_plans())

    def test_paused_host_is_no_destination(self):
        result = self.planner('full').run(
            self.cycle(paused_hosts=frozenset(('host-3',))))
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'host-2'}, {a.target for a in plan.actions})
        result = self.planner('full').run(self.cycle(
            bad_pairs={}, paused_hosts=frozenset(('host-2', 'host-3'))))
        # the plan above is under way in the database, not in this
        # cycle's input: host-1 is still hot, and nowhere to go
        self.assertEqual([], result.applied)
        self.assertEqual(['host-1'], result.unresolved)

    def test_unresolved_hosts_are_logged_with_their_reason(self):
        with self.assertLogs(planner.__name__, 'INFO') as logs:
            self.planner('full').run(self.cycle(
                bad_pairs={}, paused_hosts=frozenset(('host-2', 'host-3'))))
        line = [m for m in logs.output if 'left unresolved' in m][0]
        self.assertIn('host-1 (cannot be relieved', line)
        self.assertIn('no other enabled host in its zone', line)


class MaintenanceTest(base.SqliteTestCase):

    def run_cycle(self, mode='partial', reason='Maintenance: new DIMMs',
                  owned=ALL, model=None):
        p = planner.Planner(c.conf(drs_balancer__mode=mode), self.db, 'r1')
        model = model or hot_cluster()
        model.hosts.disabled[model.host_index['host-2']] = True
        return p.run(planner.CycleInput(
            model=model, owned=owned,
            disabled_reasons={'host-2': reason}))

    def evacuations(self):
        return self.db.list_plans(origin=models.ORIGIN_EVACUATION)

    def test_host_in_maintenance_is_evacuated_once(self):
        result = self.run_cycle()
        plans = self.evacuations()
        self.assertEqual(1, len(plans))
        self.assertIn(plans[0].uuid, result.applied)
        plan = self.db.get_plan(plans[0].uuid)
        self.assertEqual([('idle', 'host-2', 'host-3')],
                         [(a.instance_uuid, a.source, a.target)
                          for a in plan.actions])
        self.assertIn('evacuate host-2 (maintenance)',
                      plan.actions[0].reason)
        # while it is under way, no second evacuation
        self.run_cycle()
        self.assertEqual(1, len(self.evacuations()))

    def test_manual_mode_recommends_the_evacuation(self):
        self.run_cycle(mode='manual')
        self.assertEqual([plan_states.PLAN_RECOMMENDED],
                         [p.state for p in self.evacuations()])

    def test_other_reasons_and_other_replicas_hosts_are_not_evacuated(self):
        self.run_cycle(reason='broken NIC')
        self.run_cycle(owned=frozenset(('host-1', 'host-3')))
        self.assertEqual([], self.evacuations())

    def test_paused_host_in_maintenance_is_left_alone(self):
        p = planner.Planner(c.conf(drs_balancer__mode='full'), self.db,
                            'r1')
        model = hot_cluster()
        model.hosts.disabled[model.host_index['host-2']] = True
        cycle = planner.CycleInput(
            model=model, owned=ALL,
            disabled_reasons={'host-2': 'maintenance'},
            paused_hosts=frozenset(('host-2',)))
        self.assertEqual([], p.maintenance_hosts(cycle))
        p.run(cycle)
        self.assertEqual([], self.evacuations())

    def test_opted_out_instance_is_left_and_reported(self):
        model = hot_cluster()
        model.instances.opt_out[model.instance_index['idle']] = True
        result = self.run_cycle(model=model)
        self.assertEqual([], self.evacuations())
        self.assertIn('idle', result.left_behind['host-2'])

    def test_in_maintenance(self):
        self.assertTrue(planner.in_maintenance(' MAINTENANCE window',
                                               'maintenance'))
        self.assertFalse(planner.in_maintenance('maintenance', ''))
        self.assertFalse(planner.in_maintenance(None, 'maintenance'))
        self.assertFalse(planner.in_maintenance('no maintenance',
                                                'maintenance'))
