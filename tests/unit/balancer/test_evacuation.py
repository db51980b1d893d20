# SPDX-License-Identifier: Apache-2.0
"""Evacuation plans for hosts going into maintenance."""

from oslotest import base

from nova_drs.balancer.planning import evacuation
from tests.unit import clusters as c


def evacuate(model, host='h1', conf=None, **kw):
    model.hosts.disabled[model.host_index[host]] = True
    return evacuation.plan_evacuation(model, host, conf or c.conf(), **kw)


class EvacuationTest(base.BaseTestCase):

    def test_every_instance_leaves_despite_per_source_limit(self):
        vms = [c.vm('v%d' % n, 'h1', vcpus=1, util=20.0) for n in range(6)]
        model = c.model([c.host('h1'), c.host('h2'), c.host('h3')], vms)
        result = evacuate(model, conf=c.conf(
            drs_balancer__max_migrations_per_source_host=2,
            drs_balancer__max_migrations_per_destination_host=4))
        self.assertEqual(6, len(result.plan.migrations))
        self.assertEqual({'h2', 'h3'},
                         {m.target for m in result.plan.migrations})
        self.assertEqual({}, result.left)
        self.assertEqual([], result.plan.unresolved)
        self.assertEqual('evacuation', result.plan.strategy)

    def test_largest_first_and_spread_by_load(self):
        model = c.model([c.host('h1'), c.host('h2'), c.host('h3')],
                        [c.vm('small', 'h1', vcpus=1, util=50.0),
                         c.vm('big', 'h1', vcpus=4, util=100.0),
                         c.vm('there', 'h2', vcpus=2, util=100.0)])
        result = evacuate(model, conf=c.conf(
            drs_balancer__destination_policy='spread'))
        self.assertEqual([('big', 'h3'), ('small', 'h2')],
                         [(m.instance, m.target)
                          for m in result.plan.migrations])

    def test_pack_keeps_the_empty_host_empty(self):
        # h2 runs a guest (1 core) and takes both under its comfort
        # level (5.5 cores of 10): h3 stays empty
        model = c.model([c.host('h1'), c.host('h2'), c.host('h3')],
                        [c.vm('small', 'h1', vcpus=1, util=50.0),
                         c.vm('big', 'h1', vcpus=4, util=100.0),
                         c.vm('there', 'h2', vcpus=2, util=50.0)])
        result = evacuate(model)
        self.assertEqual([('big', 'h2'), ('small', 'h2')],
                         [(m.instance, m.target)
                          for m in result.plan.migrations])

    def test_no_room_below_thresholds_lets_nova_choose(self):
        model = c.model([c.host('h1'), c.host('h2')],
                        [c.vm('big', 'h1', vcpus=6, util=100.0),
                         c.vm('busy', 'h2', vcpus=6, util=100.0)])
        result = evacuate(model)
        self.assertEqual([('big', None)],
                         [(m.instance, m.target)
                          for m in result.plan.migrations])
        self.assertIn("Nova's scheduler chooses",
                      result.plan.migrations[0].reason)

    def test_pinned_instances_are_left_with_the_reason(self):
        model = c.model(
            [c.host('h1'), c.host('h2')],
            [c.vm('opted', 'h1', opt_out=True),
             c.vm('g1', 'h1', server_group='grp'),
             c.vm('g2', 'h1', server_group='grp'),
             c.vm('free', 'h1')],
            groups=[{'name': 'grp', 'policy': 'affinity'}])
        result = evacuate(model, skip={'free'})
        self.assertEqual([], result.plan.migrations)
        self.assertEqual({'opted', 'g1', 'g2'}, set(result.left))
        self.assertIn('affinity group grp', result.left['g1'])
        self.assertEqual(['h1'], result.plan.unresolved)

    def test_failed_pairs_are_avoided(self):
        model = c.model([c.host('h1'), c.host('h2'), c.host('h3')],
                        [c.vm('v', 'h1')])
        model.exclude_target('v', 'h2')
        model.exclude_target('v', 'unknown-host')
        result = evacuate(model)
        self.assertEqual(['h3'], [m.target for m in result.plan.migrations])
