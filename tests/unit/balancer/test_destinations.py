# SPDX-License-Identifier: Apache-2.0
"""Destination policy, hysteresis, fast failure and unresolved reasons.

Hosts have 10 cores and 10,000 MiB (tests.unit.clusters). With CPU
threshold 0.85, relief_margin 0.05 (the defaults) and
destination_headroom 0.10 (set here) a host is hot above 8.5 cores, is
relieved to 8.0 cores, no destination may end above 8.0 cores, and the
comfort level is 7.5 cores.
"""

from unittest import mock

import numpy as np
from oslotest import base

from nova_drs.balancer.planning import destinations
from nova_drs.balancer.planning import placement
from nova_drs.balancer import strategies
from nova_drs.balancer.strategies import hotspot
from nova_drs.model import cluster
from tests.unit.balancer.test_hotspot import busy
from tests.unit.balancer.test_hotspot import moves
from tests.unit import clusters as c


def plan(model, strategy='hotspot', **overrides):
    overrides.setdefault('drs_balancer__destination_headroom', 0.10)
    return strategies.load(strategy, c.conf(**overrides)).plan(model)


def _hot_a(others, mover_cores=2.0):
    """a: a pinned 7-core guest and a movable one: 9 cores, hot."""
    return c.model(
        [c.host('a')] + [c.host(name) for name, _ in others],
        [busy('pinned', 'a', 7, opt_out=True),
         c.vm('m', 'a', vcpus=2, util=50.0 * mover_cores, mem=100)]
        + [c.vm('w-' + name, name, vcpus=8, util=100.0 * cores / 8.0)
           for name, cores in others if cores])


class TestPack(base.BaseTestCase):

    def test_default_comfort_level(self):
        # the default headroom (0.30): 5.5 cores; d would end at 7, c at 5
        p = strategies.load('hotspot', c.conf()).plan(
            _hot_a([('b', 0), ('c', 3.0), ('d', 5.0)]))
        self.assertEqual([('m', 'a', 'c')], moves(p))

    def test_best_fit_among_hosts_under_the_comfort_level(self):
        # b is empty, c at 3 cores, d at 5: d ends at 7 <= 7.5, the
        # tightest fit; the empty host stays empty
        p = plan(_hot_a([('b', 0), ('c', 3.0), ('d', 5.0)]))
        self.assertEqual([('m', 'a', 'd')], moves(p))
        self.assertIn('destination policy pack', p.migrations[0].reason)
        self.assertIn(destinations.TIER_FIT, p.migrations[0].reason)

    def test_a_host_above_the_comfort_level_is_not_a_fit(self):
        # d would end at 8 cores: under the ceiling, above the comfort
        # level; c (ends at 5) is the fit
        p = plan(_hot_a([('b', 0), ('c', 3.0), ('d', 6.0)]))
        self.assertEqual([('m', 'a', 'c')], moves(p))

    def test_an_empty_host_only_when_no_active_host_fits(self):
        p = plan(_hot_a([('b', 0), ('c', 6.0), ('d', 6.0)]))
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_EMPTY, p.migrations[0].reason)

    def test_above_the_comfort_level_when_nothing_else_fits(self):
        # no empty host; c ends at 8.0, d at 7.8: both under the ceiling,
        # the least loaded wins
        p = plan(_hot_a([('c', 6.0), ('d', 5.8)]))
        self.assertEqual([('m', 'a', 'd')], moves(p))
        self.assertIn(destinations.TIER_WARM, p.migrations[0].reason)

    def test_memory_comfort_level_of_its_own(self):
        # d: 3 cores and 5,500 MiB in use; m brings 2 cores and 1,000
        # MiB: CPU 0.5 fits under 0.85 - 0.30, memory 0.65 does not fit
        # under 0.90 - 0.30, but does under 0.90 - 0.15
        m = c.model(
            [c.host('a'), c.host('b'), c.host('d')],
            [busy('pinned', 'a', 7, opt_out=True),
             c.vm('m', 'a', vcpus=2, util=100.0, mem=1000),
             c.vm('w-d', 'd', vcpus=8, util=37.5, mem=5500,
                  memory_mb=6000)])
        # unset: memory's comfort level is the others'
        p = strategies.load('hotspot', c.conf(
            drs_balancer__destination_memory_headroom=None)).plan(m)
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_EMPTY, p.migrations[0].reason)
        p = strategies.load('hotspot', c.conf(
            drs_balancer__destination_memory_headroom=0.15)).plan(m)
        self.assertEqual([('m', 'a', 'd')], moves(p))
        self.assertIn(destinations.TIER_FIT, p.migrations[0].reason)

    def test_spread_keeps_the_rule_of_earlier_releases(self):
        p = plan(_hot_a([('b', 0), ('c', 3.0), ('d', 5.0)]),
                 drs_balancer__destination_policy='spread')
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertIn('destination policy spread', p.migrations[0].reason)

    def test_best_fit_keeps_the_large_slot_for_the_large_guest(self):
        # two hot hosts; the small guest goes where it fits tightly (c),
        # so the big one still finds d
        m = c.model(
            [c.host('a'), c.host('x'), c.host('c'), c.host('d')],
            [busy('pa', 'a', 7, opt_out=True),
             c.vm('small', 'a', vcpus=2, util=100.0, mem=100),
             busy('px', 'x', 5, opt_out=True),
             c.vm('big', 'x', vcpus=4, util=100.0, mem=100),
             c.vm('wc', 'c', vcpus=8, util=60.0),
             c.vm('wd', 'd', vcpus=8, util=40.0)])
        p = plan(m)
        self.assertEqual({('small', 'a', 'c'), ('big', 'x', 'd')},
                         set(moves(p)))
        self.assertEqual([], p.unresolved)


class TestSetsThatKeepHostsOff(base.BaseTestCase):
    """pack judges a hot host's whole relief by the hosts it powers on."""

    @staticmethod
    def _two_singles(dear_mem=1200):
        # a: 11 cores, relieved to 8: either guest alone covers the 3;
        # 'cheap' (4 cores, 1,000 MiB in use) fits only the empty b (c
        # would end at 8 > 7.5), 'dear' (3 cores) fits c
        return c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [busy('p', 'a', 4, opt_out=True),
             busy('cheap', 'a', 4, mem=1000),
             busy('dear', 'a', 3, mem=dear_mem),
             c.vm('w-c', 'c', vcpus=8, util=50.0)])

    def test_same_size_set_that_fits_active_hosts_wins(self):
        # pack's default: no extra migration needed for it; 20 % more
        # memory to move is within PACK_EXTRA_COST
        for extra in (0, 1):
            p = plan(self._two_singles(),
                     drs_balancer__pack_extra_migrations=extra)
            self.assertEqual([('dear', 'a', 'c')], moves(p))
            self.assertIn(destinations.TIER_FIT, p.migrations[0].reason)

    def test_a_much_dearer_set_does_not_keep_the_host_off(self):
        # 'dear' would move 1.5x the memory, beyond PACK_EXTRA_COST: the
        # cheapest set powers b on, as the exact optimum would move it
        self.assertLess(hotspot.PACK_EXTRA_COST, 0.5)
        p = plan(self._two_singles(dear_mem=1500))
        self.assertEqual([('cheap', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_EMPTY, p.migrations[0].reason)

    def test_the_cheapest_with_spread(self):
        for extra in (0, 1):
            p = plan(self._two_singles(),
                     drs_balancer__destination_policy='spread',
                     drs_balancer__pack_extra_migrations=extra)
            self.assertEqual([('cheap', 'a', 'b')], moves(p))

    @staticmethod
    def _one_big_or_two_small():
        # a: 11 cores, relieved to 8: 'big' (3 cores) alone covers it but
        # fits only the empty b (c and d at 5 would end at 8 > 7.5); the
        # two 1.5-core guests together cover it and fit c and d (6.5)
        return c.model(
            [c.host('a'), c.host('b'), c.host('c'), c.host('d')],
            [busy('p', 'a', 5, opt_out=True),
             busy('big', 'a', 3, mem=100),
             c.vm('s1', 'a', vcpus=2, util=75.0, mem=800),
             c.vm('s2', 'a', vcpus=2, util=75.0, mem=800),
             c.vm('w-c', 'c', vcpus=8, util=62.5),
             c.vm('w-d', 'd', vcpus=8, util=62.5)])

    def test_one_more_migration_keeps_a_host_off(self):
        p = plan(self._one_big_or_two_small(),
                 drs_balancer__pack_extra_migrations=1)
        self.assertEqual(2, len(p.migrations))
        self.assertEqual({('s1', 'a'), ('s2', 'a')},
                         {(i, src) for i, src, _ in moves(p)})
        self.assertEqual({'c', 'd'}, {dst for _, _, dst in moves(p)})
        self.assertEqual([], p.unresolved)
        for m in p.migrations:
            self.assertIn(destinations.TIER_FIT, m.reason)

    def test_the_fewest_migrations_by_default(self):
        p = plan(self._one_big_or_two_small())
        self.assertEqual([('big', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_EMPTY, p.migrations[0].reason)

    def test_the_host_is_opened_when_no_larger_set_fits(self):
        # d gone: the two small guests no longer both fit under the
        # comfort level (c would end at 8): the big one opens b
        p = plan(drs_balancer__pack_extra_migrations=1, model=c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [busy('p', 'a', 5, opt_out=True),
             busy('big', 'a', 3, mem=100),
             c.vm('s1', 'a', vcpus=2, util=75.0, mem=800),
             c.vm('s2', 'a', vcpus=2, util=75.0, mem=800),
             c.vm('w-c', 'c', vcpus=8, util=62.5)]))
        self.assertEqual([('big', 'a', 'b')], moves(p))
        self.assertEqual([], p.unresolved)


class TestHysteresis(base.BaseTestCase):

    def _model(self, dest_cores=3.0):
        # a: 9 cores; s1 0.6 cores (cheap), s2 1.2 cores
        return c.model(
            [c.host('a'), c.host('b')],
            [c.vm('pinned', 'a', vcpus=8, util=90.0, opt_out=True),
             c.vm('s1', 'a', vcpus=1, util=60.0, mem=100),
             c.vm('s2', 'a', vcpus=2, util=60.0, mem=200),
             c.vm('w', 'b', vcpus=8, util=100.0 * dest_cores / 8.0)])

    def test_hot_host_relieved_to_threshold_minus_margin(self):
        # to 8.5 cores s1 (0.6) would do; to 8.0 it takes s2 (1.2)
        self.assertEqual([('s2', 'a', 'b')], moves(plan(self._model())))
        self.assertEqual([('s1', 'a', 'b')], moves(plan(
            self._model(), drs_balancer__relief_margin=0.0)))
        reason = plan(self._model()).migrations[0].reason
        self.assertIn('relieved to threshold - 0.05', reason)

    def test_destination_ends_below_threshold_minus_margin(self):
        # b at 7 cores: s2 would take it to 8.2 (under 8.5, above 8.0)
        p = plan(self._model(dest_cores=7.0),
                 drs_balancer__max_chain_depth=0)
        # s1 takes b to 7.6 and a to 8.4: under the threshold only
        self.assertEqual([('s1', 'a', 'b')], moves(p))
        self.assertIn('relieved to its threshold only',
                      p.migrations[0].reason)
        self.assertEqual([], p.unresolved)

    def test_no_room_under_the_ceiling_says_so(self):
        p = plan(self._model(dest_cores=7.8),
                 drs_balancer__max_chain_depth=0)
        self.assertEqual([], p.migrations)
        why = p.unresolved_reasons['a']
        self.assertIn('proven by a cheap check', why)
        self.assertIn('1 lack CPU load room under threshold - 0.05', why)

    def test_no_room_reason_names_the_rule(self):
        # b (7.8 cores) has CPU room for s1 under the threshold, not under
        # the ceiling; c has CPU room but no vCPU allocation room
        m = c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [c.vm('pinned', 'a', vcpus=8, util=90.0, opt_out=True),
             c.vm('s1', 'a', vcpus=1, util=60.0, mem=100),
             c.vm('s2', 'a', vcpus=2, util=60.0, mem=200),
             c.vm('w', 'b', vcpus=8, util=97.5),
             c.vm('fill', 'c', vcpus=40, util=1.0)])
        why = plan(m, drs_balancer__max_chain_depth=0).unresolved_reasons[
            'a']
        self.assertIn('proven by a cheap check', why)
        self.assertIn('of 2 host(s) in its zone, for s1', why)
        self.assertIn('1 lack CPU load room under threshold - 0.05', why)
        self.assertIn('1 lack vCPU allocation room', why)


class TestFastFailure(base.BaseTestCase):

    def test_full_cluster_is_proven_unrelievable(self):
        # every host is full by vCPU allocation (40 of 40): nothing can
        # move anywhere, not even to make room
        m = c.model(
            [c.host(n) for n in 'abc'],
            [busy('hot%d' % n, 'a', 3) for n in range(3)]
            + [c.vm('fill-a', 'a', vcpus=31, util=0.0, opt_out=True)]
            + [c.vm('fill-' + n, n, vcpus=40, util=10.0) for n in 'bc'])
        p = plan(m)
        self.assertEqual([], p.migrations)
        why = p.unresolved_reasons['a']
        self.assertIn('proven by a cheap check', why)
        self.assertIn('vCPU allocation', why)
        self.assertIn('no make-room move is possible', why)

    def test_no_search_when_nothing_in_the_cluster_moves(self):
        # every host full by vCPU allocation: once the first hot host's
        # search found nothing, the proof comes first and no relief set
        # nor make-room chain is searched for the next hot hosts
        from nova_drs.balancer.strategies import hotspot
        searched = []
        real = hotspot.HotspotResolver._search_sets

        def search_sets(resolver, cands, *args, **kwargs):
            names = resolver.state.model.hosts.names
            searched.append(names[int(resolver.state.inst_host[cands[0]])])
            return real(resolver, cands, *args, **kwargs)

        m = c.model(
            [c.host(n) for n in 'abcd'],
            [busy('hot%s%d' % (h, n), h, 3) for h in 'abc' for n in range(3)]
            + [c.vm('fill-' + h, h, vcpus=31, util=0.0, opt_out=True)
               for h in 'abc']
            + [c.vm('fill-d', 'd', vcpus=40, util=10.0)])
        with mock.patch.object(hotspot.HotspotResolver, '_search_sets',
                               search_sets):
            p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a', 'b', 'c'], sorted(p.unresolved))
        for host in 'abc':
            self.assertIn('proven by a cheap check',
                          p.unresolved_reasons[host])
        # the first hot host only
        self.assertEqual(1, len(set(searched)))
        # where something might move, every hot host is searched
        searched.clear()
        m = c.model([c.host(n) for n in 'abc'],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w1', 'b', 5, mem=2000), busy('w2', 'b', 4)])
        with mock.patch.object(hotspot.HotspotResolver, '_search_sets',
                               search_sets):
            p = plan(m)
        self.assertEqual({'a', 'b'}, set(searched))

    def test_proof_is_not_claimed_when_a_chain_could_help(self):
        # v2 (4 cores) fits nowhere directly, but y could leave b
        state = placement.PlacementState(
            c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('x', 'b', 4), busy('y', 'b', 1),
                     busy('z', 'c', 7)]),
            c.conf(), cluster.thresholds_from_conf(c.conf()))
        self.assertEqual(0, state.index.no_room(1))
        self.assertFalse(state.index.nothing_moves())


class TestReasonsAndLimits(base.BaseTestCase):

    def test_destination_limit_is_named(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w1', 'b', 5, mem=2000), busy('w2', 'b', 4)])
        p = plan(m, drs_balancer__max_migrations_per_destination_host=1)
        self.assertEqual(1, len(p.unresolved))
        self.assertIn('reached max_migrations_per_destination_host (1)',
                      p.unresolved_reasons[p.unresolved[0]])

    def test_no_cap_per_destination_by_default(self):
        # only b can take them
        m = c.model([c.host('a'), c.host('b')],
                    [busy('pinned', 'a', 8, opt_out=True)]
                    + [c.vm('s%d' % n, 'a', vcpus=1, util=40.0,
                            mem=100 + n) for n in range(6)])
        p = plan(m)
        # 10.4 cores, to 8.0: six 0.4-core moves, all onto b
        self.assertEqual(6, len(p.migrations))
        self.assertEqual({'b'}, {x.target for x in p.migrations})
        self.assertEqual([], p.unresolved)

    def test_opt_outs_and_server_groups_are_named(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('o', 'a', 5, opt_out=True),
                     busy('g1', 'a', 2, server_group='aff'),
                     busy('g2', 'a', 2, server_group='aff')],
                    [{'name': 'aff', 'policy': 'affinity'}])
        why = plan(m).unresolved_reasons['a']
        self.assertIn('1 opted out', why)
        self.assertIn('2 in hard-affinity server groups', why)

    def test_anti_affinity_group_is_named(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, opt_out=True),
                     busy('v2', 'a', 4, server_group='anti'),
                     busy('peer', 'b', 1, server_group='anti')],
                    [{'name': 'anti', 'policy': 'anti-affinity'}])
        p = plan(m)
        self.assertIn('anti-affinity server group anti',
                      p.unresolved_reasons['a'])

    def test_reasons_in_the_plan_document(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('o', 'a', 9, opt_out=True)])
        doc = plan(m).to_dict()
        self.assertEqual(['a'], doc['unresolved'])
        self.assertIn('opted out', doc['unresolved_reasons']['a'])


class TestReuse(base.BaseTestCase):

    def test_a_host_cooled_earlier_receives_under_its_comfort_level(self):
        # a (9.5 cores) is relieved first, onto c (4 -> 8 cores); b then
        # needs q moved and only a, cooled to 5.5 cores, has room
        m = c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [c.vm('x', 'a', vcpus=4, util=100.0, mem=100),
             c.vm('pa', 'a', vcpus=8, util=68.75, opt_out=True),
             c.vm('pb', 'b', vcpus=12, util=70.0, opt_out=True),
             c.vm('q', 'b', vcpus=1, util=100.0, mem=100),
             c.vm('wc', 'c', vcpus=8, util=50.0)])
        p = plan(m)
        self.assertEqual([('x', 'a', 'c'), ('q', 'b', 'a')], moves(p))
        self.assertEqual([], p.unresolved)

    def test_not_with_the_agents_flags(self):
        # the Nova scheduler filter refuses a host its agent flags hot
        m = c.model(
            [c.host('a', hot=['cpu']), c.host('b', hot=['cpu']),
             c.host('c', hot=[])],
            [c.vm('x', 'a', vcpus=4, util=100.0, mem=100),
             c.vm('pa', 'a', vcpus=8, util=68.75, opt_out=True),
             c.vm('pb', 'b', vcpus=12, util=70.0, opt_out=True),
             c.vm('q', 'b', vcpus=1, util=100.0, mem=100),
             c.vm('wc', 'c', vcpus=8, util=50.0)])
        p = plan(m)
        self.assertEqual([('x', 'a', 'c')], moves(p))
        self.assertEqual(['b'], p.unresolved)


class TestBalanceWithAnUnrelievableHost(base.BaseTestCase):

    def test_levels_the_rest(self):
        # a cannot be relieved (its guest is pinned); b and c are uneven
        m = c.model(
            [c.host('a'), c.host('b'), c.host('c'), c.host('d')],
            [busy('o', 'a', 9, opt_out=True),
             busy('b1', 'b', 3), busy('b2', 'b', 3),
             busy('c1', 'c', 1)])
        p = plan(m, 'balance')
        self.assertEqual(['a'], p.unresolved)
        self.assertTrue(p.migrations)
        self.assertEqual({'b'}, {x.source for x in p.migrations})


class TestIndex(base.BaseTestCase):

    def test_index_agrees_with_a_full_scan(self):
        # random clusters: the index finds a host whenever one exists,
        # and only hosts the full scan allows
        rng = np.random.default_rng(7)
        for trial in range(20):
            hosts = [c.host('h%d' % h) for h in range(30)]
            vms = []
            for n in range(120):
                vms.append(c.vm('v%d' % n, 'h%d' % rng.integers(30),
                                vcpus=int(rng.choice([1, 2, 4])),
                                util=float(rng.uniform(5, 100)),
                                mem=int(rng.integers(100, 1500))))
            for policy in ('pack', 'spread'):
                conf = c.conf(drs_balancer__destination_policy=policy)
                m = c.model(hosts, vms)
                state = placement.PlacementState(
                    m, conf, cluster.thresholds_from_conf(conf))
                every = np.arange(len(m.hosts))
                for i in range(len(m.instances)):
                    allowed = set(state.feasible(i, every).tolist())
                    dest, _tier = state.choose_destination(i)
                    if allowed:
                        self.assertIn(dest, allowed, (trial, policy, i))
                        state.apply(i, dest)
                    else:
                        self.assertEqual(-1, dest, (trial, policy, i))


class TestRulesForStrategies(base.BaseTestCase):

    def test_a_strategy_reads_the_options(self):
        strategy = strategies.load('hotspot', c.conf(
            drs_balancer__destination_policy='spread',
            drs_balancer__destination_headroom=0.3,
            drs_balancer__relief_margin=0.1))
        self.assertEqual(destinations.Rules('spread', 0.3, 0.1, 0.1),
                         strategy.rules)
        # the comfort level is never above the ceiling
        self.assertEqual(0.1, destinations.Rules('pack', 0.0, 0.1)
                         .comfort_share)

    def test_memory_headroom_of_its_own(self):
        rules = strategies.load('hotspot', c.conf(
            drs_balancer__destination_memory_headroom=0.15)).rules
        self.assertEqual(destinations.Rules('pack', 0.3, 0.05, 0.15), rules)
        shares = rules.comfort_shares
        self.assertEqual(0.15, shares[cluster.MEMORY])
        self.assertEqual([0.3, 0.3, 0.3], [
            shares[r] for r in (cluster.CPU, cluster.DISK, cluster.NETWORK)])
        self.assertEqual('pack (comfort level: thresholds - 0.30, memory '
                         '- 0.15)', rules.describe())
        # unset: the same as the others; never under the relief margin
        self.assertEqual([0.3] * 4, list(destinations.Rules().comfort_shares))
        self.assertEqual(0.05, destinations.Rules(
            memory_headroom=0.0).comfort_shares[cluster.MEMORY])
