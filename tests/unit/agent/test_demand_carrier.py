# SPDX-License-Identifier: Apache-2.0
"""Demand estimates carried in domain metadata, through the fake libvirt."""

from unittest import mock

import fixtures
from oslotest import base

from nova_drs.agent import balloon
from nova_drs.agent import demand_carrier
from nova_drs.agent import demand_element
from nova_drs.agent import inspector
from nova_drs.agent import metrics
from tests.unit.agent import fakes
from tests.unit import clusters

GIB = fakes.GIB_KIB
UUID = '00000000-0000-0000-0000-0000000000c1'
NS = inspector.DRS_NAMESPACE
#: 2026-01-01T00:00:00Z
EPOCH = 1767225600.0


def element_xml(floor_mb=None, demand=None, rise=None):
    """A domain's <drs:balloon> element, as an operator or agent left it.

    :param demand: (peak_mb, history_s, at)
    :param rise: {attribute: value} added to the <drs:demand> child.
    """
    attrs = ' floor_mb="%s"' % floor_mb if floor_mb is not None else ''
    child = ''
    if demand is not None:
        extra = ''.join(' %s="%s"' % item
                        for item in sorted((rise or {}).items()))
        child = ('<drs:demand peak_mb="%s" history_s="%s" at="%s"%s/>'
                 % (demand + (extra,)))
    return ('<metadata><drs:balloon xmlns:drs="%s"%s>%s</drs:balloon>'
            '</metadata>' % (NS, attrs, child))


def domain_xml(name='instance-c1', **kw):
    xml = fakes.domain_xml(name)
    if kw:
        xml = xml.replace('<devices>', element_xml(**kw) + '<devices>')
    return xml


class Xml:
    """A domain's XML alone, as another host sends it."""

    def __init__(self, xml):
        self.xml = xml

    def XMLDesc(self, flags):
        return self.xml


def iso(at):
    return demand_element._timestamp(at)


class TestElement(base.BaseTestCase):

    def parse(self, xml):
        return inspector.parse_domain_xml(xml).demand

    def test_parse(self):
        carried = self.parse(domain_xml(
            floor_mb=1024, demand=(1536.5, 3600, '2026-01-01T00:00:00Z')))
        self.assertEqual(demand_element.CarriedDemand(1536.5, 3600.0, EPOCH),
                         carried)
        self.assertIsNone(self.parse(domain_xml(floor_mb=1024)))
        self.assertIsNone(self.parse(domain_xml()))

    def test_parse_a_rise(self):
        carried = self.parse(domain_xml(
            demand=(1536.5, 3600, '2026-01-01T00:00:00Z'),
            rise={'rise_mb_per_sqrt_s': '96.25', 'rise_history_s': '86400'}))
        self.assertEqual(demand_element.CarriedDemand(
            1536.5, 3600.0, EPOCH, rise_mb_per_sqrt_s=96.25,
            rise_history_s=86400.0), carried)

    def test_an_old_element_has_no_rise(self):
        # written by an agent that carried the peak alone
        carried = self.parse(domain_xml(
            floor_mb=1024, demand=(1536.5, 3600, '2026-01-01T00:00:00Z')))
        self.assertEqual((1536.5, 3600.0, EPOCH, None, None),
                         (carried.peak_mb, carried.history_s, carried.at,
                          carried.rise_mb_per_sqrt_s,
                          carried.rise_history_s))

    def test_round_trip(self):
        xml = demand_element.merged(
            '<balloon floor_mb="2048"/>', 3072.04, 1800.4, EPOCH + 60,
            rise_mb_per_sqrt_s=809.5445, rise_history_s=86399.6)
        self.assertEqual(
            '<balloon floor_mb="2048"><demand peak_mb="3072.0" '
            'history_s="1800" rise_mb_per_sqrt_s="809.54" '
            'rise_history_s="86400" at="2026-01-01T00:01:00Z" />'
            '</balloon>', xml)
        # libvirt gives it back in its namespace, prefixed
        element = xml.replace('<balloon', '<drs:balloon xmlns:drs="%s"'
                              % NS, 1).replace('<demand', '<drs:demand')
        element = element.replace('</balloon>', '</drs:balloon>')
        config = inspector.parse_domain_xml(fakes.domain_xml(
            'instance-c1').replace('<devices>', '<metadata>%s</metadata>'
                                   '<devices>' % element))
        self.assertEqual(demand_element.CarriedDemand(
            3072.0, 1800.0, EPOCH + 60, rise_mb_per_sqrt_s=809.54,
            rise_history_s=86400.0), config.demand)
        self.assertEqual(2048.0, config.floor_mb)
        # no rise: no rise attributes, as before
        self.assertNotIn('rise', demand_element.merged(None, 5, 0, EPOCH))

    def test_invalid_rises_are_refused_with_a_reason(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='nova_drs.agent.inspector'))
        good = {'rise_mb_per_sqrt_s': '96', 'rise_history_s': '600'}
        for attribute, value, reason in (
                ('rise_mb_per_sqrt_s', 'nan', 'not a finite number'),
                ('rise_mb_per_sqrt_s', 'inf', 'not a finite number'),
                ('rise_mb_per_sqrt_s', '-1', 'not a finite number'),
                ('rise_mb_per_sqrt_s', 'x', 'not a number'),
                ('rise_history_s', '-5', 'not a finite number'),
                ('rise_history_s', 'inf', 'not a finite number'),
                # one without the other
                ('rise_history_s', None, 'no "rise_history_s" attribute'),
                ('rise_mb_per_sqrt_s', None,
                 'no "rise_mb_per_sqrt_s" attribute')):
            rise = dict(good)
            if value is None:
                del rise[attribute]
            else:
                rise[attribute] = value
            config = inspector.parse_domain_xml(domain_xml(
                floor_mb=1024, demand=(100, 60, iso(EPOCH)), rise=rise))
            # as a bad peak: the estimate is not used, the floor holds
            self.assertIsNone(config.demand, rise)
            self.assertEqual(1024.0, config.floor_mb)
            line = log.output.strip().splitlines()[-1]
            self.assertIn('invalid demand estimate of domain instance-c1',
                          line)
            self.assertIn(reason, line)
            if value is not None:
                self.assertIn('"%s" %r' % (attribute, value), line)

    def test_invalid_estimates_are_ignored(self):
        for demand in ((-1, 60, iso(EPOCH)), ('nan', 60, iso(EPOCH)),
                       (100, 'x', iso(EPOCH)), (100, 60, 'yesterday'),
                       # no time zone: no way to age it
                       (100, 60, '2026-01-01T00:00:00')):
            config = inspector.parse_domain_xml(domain_xml(
                floor_mb=1024, demand=demand))
            self.assertIsNone(config.demand, demand)
            # the floor of the same element still holds
            self.assertEqual(1024.0, config.floor_mb)

    def test_merged_keeps_the_rest_of_the_element(self):
        current = ('<balloon floor_mb="2048" note="x">\n  <demand '
                   'peak_mb="1" history_s="1" at="%s"/>\n  <other a="1"/>'
                   '</balloon>' % iso(EPOCH))
        xml = demand_element.merged(current, 700.04, 1234.4, EPOCH + 60)
        self.assertEqual(
            '<balloon floor_mb="2048" note="x"><other a="1" />'
            '<demand peak_mb="700.0" history_s="1234" '
            'at="2026-01-01T00:01:00Z" /></balloon>', xml)
        self.assertEqual(
            '<balloon><demand peak_mb="5.0" history_s="0" '
            'at="2026-01-01T00:00:00Z" /></balloon>',
            demand_element.merged(None, 5, 0, EPOCH))
        self.assertRaises(ValueError, demand_element.merged, '<balloon',
                          5, 0, EPOCH)


class CarrierTestCase(base.BaseTestCase):
    """An agent's inspector and actuator over a fake libvirtd."""

    def setUp(self):
        super().setUp()
        self.libvirt = fakes.make_module()
        self.useFixture(fixtures.MockPatchObject(inspector, 'libvirt',
                                                 self.libvirt))
        self.useFixture(fixtures.MockPatchObject(inspector,
                                                 'start_event_loop'))
        # flat floor 10 %, every shrink in one cycle: the floors show
        self.conf = clusters.conf(drs_balloon__floor=0.1,
                                  drs_balloon__shrink_rate=1.0)
        self.mono = 0.0
        self.wall = EPOCH

    def agent(self, conn):
        """A new agent on the host of ``conn`` (a new state, no history)."""
        self.libvirt.next_connection = conn
        insp = inspector.LibvirtInspector('qemu:///system',
                                          clock=lambda: self.mono)
        insp.start()
        actuator = balloon.BalloonActuator(self.conf, insp,
                                           clock=lambda: self.mono,
                                           wallclock=lambda: self.wall)
        return insp, actuator

    def cycle(self, insp, actuator, available_gib=8, advance=10.0):
        """One agent cycle ``advance`` seconds after the last.

        By default the host is short (target 10 GiB available), not near
        pressure (above 5 GiB): the demand floors hold.
        """
        self.mono += advance
        self.wall += advance
        guests = [metrics.guest_metrics(None, s) for s in insp.sample()]
        host = metrics.HostMetrics(name='h', wallclock=self.wall,
                                   interval_s=10, cpu_count=8,
                                   total_mb=100 * 1024,
                                   available_mb=available_gib * 1024)
        return actuator.cycle(host, guests)

    @staticmethod
    def stats(usable_gib, current_gib=4):
        return fakes.guest_stats(current=int(current_gib * GIB),
                                 maximum=4 * GIB, rss=int(current_gib * GIB),
                                 usable=int(usable_gib * GIB))

    def source(self, **xml):
        """A source host with the guest; it needed 3 GiB, now 0.5 GiB."""
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', xml=domain_xml(**xml),
                       stats=self.stats(1.0))
        insp, actuator = self.agent(conn)
        # plenty of host memory: the estimate only
        self.cycle(insp, actuator, available_gib=40)
        dom.stats = self.stats(3.5)
        return conn, dom, insp, actuator

    def migrate(self, xml, usable_gib=3.5):
        """The guest on a destination host, with the XML it took along.

        :param xml: the guest's live XML on the source (what Nova sends).
        """
        conn = fakes.FakeConnection(self.libvirt, None)
        arrived = conn.add(UUID, 'instance-c1', xml=xml,
                           stats=self.stats(usable_gib))
        insp, actuator = self.agent(conn)
        return arrived, insp, actuator

    def written(self, dom):
        return inspector.parse_domain_xml(dom.XMLDesc(0)).demand


class TestWriteCadence(CarrierTestCase):

    def test_written_live_through_the_read_write_connection(self):
        conn, dom, insp, actuator = self.source(floor_mb=3000)
        self.assertEqual(1, len(dom.metadata_calls))
        xml, key, uri, flags = dom.metadata_calls[0]
        self.assertEqual(('drs', NS, self.libvirt.VIR_DOMAIN_AFFECT_LIVE),
                         (key, uri, flags))
        self.assertEqual(1, insp.write_connections)
        carried = self.written(dom)
        # 4 GiB less 1 GiB usable, written at the cycle's wall time
        self.assertEqual((3072.0, 0.0, EPOCH + 10),
                         (carried.peak_mb, carried.history_s, carried.at))
        # the operator's floor is still there
        self.assertEqual(3000.0,
                         inspector.parse_domain_xml(dom.XMLDesc(0)).floor_mb)

    def test_rarely_written(self):
        conn, dom, insp, actuator = self.source()
        # it stays at its peak (3 GiB): the moves below are small rises,
        # which move the rise estimate less than the peak
        dom.stats = self.stats(1.0)
        # the estimate does not move: no write until the refresh is due
        for _cycle in range(29):
            self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(1, len(dom.metadata_calls))
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(2, len(dom.metadata_calls))
        # 300 s after the first write: history behind it
        self.assertEqual((3072.0, 300.0, EPOCH + 310),
                         (self.written(dom).peak_mb,
                          self.written(dom).history_s, self.written(dom).at))
        # a move of 4 % of flavor memory (164 MiB) waits, one of 6 %
        # (246 MiB) is written at once
        dom.stats = self.stats(4 - 3.16)
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(2, len(dom.metadata_calls))
        dom.stats = self.stats(4 - 3.25)
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(3, len(dom.metadata_calls))
        self.assertEqual(3328.0, self.written(dom).peak_mb)

    def test_written_again_when_the_rise_moved(self):
        # first cycle: 3 GiB used (the peak), written without a rise
        conn, dom, insp, actuator = self.source()
        self.assertIsNone(self.written(dom).rise_mb_per_sqrt_s)
        # every move below stays under the peak: the rise alone moves
        moves = [(4096 - 2900, 1),
                 # 2,900 -> 3,050 MiB in 10 s: 150 MiB of headroom at
                 # this interval, under 5 % of flavor (204.8 MiB): waits
                 (4096 - 3050, 1),
                 (4096 - 2800, 1),
                 # 2,800 -> 3,072 MiB: 272 MiB, written at once
                 (4096 - 3072, 2)]
        for usable_mb, writes in moves:
            dom.stats = self.stats(usable_mb / 1024)
            self.cycle(insp, actuator, available_gib=40)
            self.assertEqual(writes, len(dom.metadata_calls), usable_mb)
        carried = self.written(dom)
        self.assertEqual(3072.0, carried.peak_mb)
        # 272 MiB over 10 s, per square root of a second
        self.assertAlmostEqual(272 / 10 ** 0.5, carried.rise_mb_per_sqrt_s,
                               places=2)
        # learnt from the second cycle on (30 s ago)
        self.assertEqual(30.0, carried.rise_history_s)
        # as the policy has it
        estimate = actuator.policy.guest_estimate(UUID)
        self.assertAlmostEqual(estimate.rise_mb_per_sqrt_s,
                               carried.rise_mb_per_sqrt_s, places=2)

    def test_writes_per_cycle_are_bounded(self):
        conn = fakes.FakeConnection(self.libvirt, None)
        doms = [conn.add('00000000-0000-0000-0000-%012d' % i, 'i-%d' % i,
                         stats=self.stats(1.0)) for i in range(200)]
        insp, actuator = self.agent(conn)
        # 200 guests, 10 s cycles, 300 s refresh: 2 x 6.7 a cycle
        counts = []
        for _cycle in range(16):
            self.cycle(insp, actuator, available_gib=40)
            counts.append(sum(len(d.metadata_calls) for d in doms))
        self.assertEqual(14, counts[0])
        self.assertEqual(200, counts[-1])
        self.assertEqual(14, max(b - a for a, b in zip(counts, counts[1:])))

    def test_not_written_during_a_migration_nor_in_dry_run(self):
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', stats=self.stats(1.0))
        insp, actuator = self.agent(conn)
        dom.job = self.libvirt.VIR_DOMAIN_JOB_UNBOUNDED
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual([], dom.metadata_calls)
        # the migration is over: written at once
        dom.job = self.libvirt.VIR_DOMAIN_JOB_NONE
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(1, len(dom.metadata_calls))

        self.conf.set_override('dry_run', True, 'drs_balloon')
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', stats=self.stats(1.0))
        insp, actuator = self.agent(conn)
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual([], dom.metadata_calls)
        self.assertEqual(0, insp.write_connections)

    def test_failure_is_logged_once_and_never_stops_ballooning(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='nova_drs.agent.demand_carrier'))
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', stats=self.stats(3.5))
        insp, actuator = self.agent(conn)
        dom.metadata_error = fakes.libvirtError(
            'argument unsupported: unknown metadata type', 8)
        for _cycle in range(40):
            report = self.cycle(insp, actuator)
            # the host is short: the idle guest is shrunk all the same
            self.assertTrue(report.guests[UUID].applied)
        self.assertEqual(1, log.output.count('not written into its '
                                             'metadata'), log.output)
        self.assertIn('unknown metadata type', log.output)
        # tried once per refresh, not every cycle
        self.assertEqual(2, dom.metadata_attempts)
        # the guest went away: its next arrival would be logged again
        actuator.forget([UUID])
        self.assertEqual(set(), actuator.carrier._failed)

    def test_a_fault_of_the_writer_does_not_fail_the_cycle(self):
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', stats=self.stats(3.5))
        insp, actuator = self.agent(conn)
        with mock.patch.object(demand_carrier.DemandCarrier, 'write',
                               side_effect=RuntimeError('bug')):
            report = self.cycle(insp, actuator)
        self.assertEqual('shrink', report.guests[UUID].action)
        self.assertTrue(report.guests[UUID].applied)
        self.assertEqual(1, len(dom.memory_calls))


class TestArrival(CarrierTestCase):

    def test_restored_on_arrival(self):
        _conn, dom, *_source = self.source()
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        # the host is short, the guest idle: shrunk, but to its peak on
        # the source (3 GiB) plus its margin (409.6 MiB)
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        self.assertAlmostEqual(3072 + 409.6, report.guests[UUID].target_mb)
        # without the estimate: to what it uses now plus its margin
        fresh, insp, actuator = self.migrate(domain_xml())
        report = self.cycle(insp, actuator)
        self.assertAlmostEqual(512 + 409.6, report.guests[UUID].target_mb)
        self.assertEqual(set(), actuator.carrier.adopted)

    def test_rise_restored_on_arrival(self):
        # carried: a peak of 1 GiB over the last hour, and a rise of
        # 2 GiB over one 10 s cycle (within the day's rise window)
        rise = 2048 / 10 ** 0.5
        dom = Xml(domain_xml(demand=(1024, 3000, iso(EPOCH)), rise={
            'rise_mb_per_sqrt_s': '%.2f' % rise,
            'rise_history_s': '86400'}))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        # its first cycle here, the host short, the guest using 512 MiB:
        # shrunk, but it keeps 2 GiB usable for a rise like that one,
        # above its demand floor (1 GiB plus its 409.6 MiB margin)
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        b = report.guests[UUID]
        self.assertEqual('shrink', b.action)
        self.assertAlmostEqual(512 + 2048, b.target_mb, delta=0.1)
        # an older agent's element, no rise: its demand floor alone
        dom = Xml(domain_xml(demand=(1024, 3000, iso(EPOCH))))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        self.assertAlmostEqual(1024 + 409.6, report.guests[UUID].target_mb)

    def test_rise_travels_source_to_destination(self):
        # on the source: 512 MiB used, then 3 GiB one cycle later
        conn = fakes.FakeConnection(self.libvirt, None)
        dom = conn.add(UUID, 'instance-c1', xml=domain_xml(),
                       stats=self.stats(3.5))
        insp, actuator = self.agent(conn)
        self.cycle(insp, actuator, available_gib=40)
        dom.stats = self.stats(1.0)
        self.cycle(insp, actuator, available_gib=40)
        self.assertEqual(2, len(dom.metadata_calls))
        self.assertAlmostEqual(2560 / 10 ** 0.5,
                               self.written(dom).rise_mb_per_sqrt_s,
                               places=2)
        # on the destination, back to 512 MiB, the host short: the rise
        # came along (2,560 MiB of headroom at this interval) with the
        # peak; here the demand floor (3 GiB + 409.6 MiB) is above what
        # it uses plus that headroom (3,072 MiB) and decides
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        self.assertAlmostEqual(
            2560 / 10 ** 0.5,
            actuator.policy.rises.peak(UUID), places=2)
        self.assertAlmostEqual(3072 + 409.6, report.guests[UUID].target_mb)

    def test_rewritten_only_when_due_after_arrival(self):
        _conn, dom, *_source = self.source()
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        self.cycle(insp, actuator)
        # written on the source 10 s ago, same peak: not again yet
        self.assertEqual([], arrived.metadata_calls)

    def test_aged(self):
        # written 50 min ago from 40 min of history, window 1 h
        at = EPOCH - 3000.0
        dom = Xml(domain_xml(
            demand=(3072, 2400, iso(at))))
        self.conf.set_override('demand_metadata_max_age_s', 3600.0,
                               'drs_balloon')
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        report = self.cycle(insp, actuator)
        self.assertAlmostEqual(3072 + 409.6, report.guests[UUID].target_mb)
        policy = actuator.policy
        # the history older than the window is gone: 1 h of it is left
        self.assertAlmostEqual(3600.0, policy.demand.history_s(
            UUID, self.mono))
        # the peak counts as seen when it was written (the latest it can
        # have been): in the window until 10 min from now, out of it (to
        # a bucket's span, 5 min) after, as on the source
        self.mono += 570.0
        self.wall += 570.0
        self.cycle(insp, actuator)
        self.assertAlmostEqual(3072.0, policy.demand.peak(UUID))
        self.mono += 600.0
        self.wall += 600.0
        self.cycle(insp, actuator)
        self.assertAlmostEqual(512.0, policy.demand.peak(UUID))

    def test_old_or_future_estimates_are_not_trusted(self):
        # window 1 h, max age 30 min (the defaults)
        for age in (2000.0, 7200.0, -2000.0):
            dom = Xml(domain_xml(
                demand=(3072, 2400, iso(EPOCH - age))))
            arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
            report = self.cycle(insp, actuator)
            self.assertEqual(set(), actuator.carrier.adopted, age)
            self.assertAlmostEqual(512 + 409.6,
                                   report.guests[UUID].target_mb, msg=age)
        # a clock a little ahead of this host's: trusted
        dom = Xml(domain_xml(
            demand=(3072, 2400, iso(EPOCH + 60))))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)

    def test_floors_win(self):
        # a small estimate never lowers the flat floor (here 90 %)
        self.conf.set_override('floor', 0.9, 'drs_balloon')
        dom = Xml(domain_xml(
            demand=(100, 3000, iso(EPOCH))))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0),
                                               usable_gib=3.9)
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        self.assertAlmostEqual(0.9 * 4096, report.guests[UUID].target_mb)
        # the per-instance floor wins over a large estimate
        self.conf.set_override('floor', 0.1, 'drs_balloon')
        dom = Xml(domain_xml(
            floor_mb=1024, demand=(3500, 3000, iso(EPOCH))))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        self.assertAlmostEqual(1024, report.guests[UUID].target_mb)

    def test_pressure_wins(self):
        # carried: it never needed much; it arrives short of memory
        dom = Xml(domain_xml(
            demand=(200, 3000, iso(EPOCH))))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        arrived.stats = fakes.guest_stats(current=2 * GIB, maximum=4 * GIB,
                                          rss=2 * GIB, usable=30 * 1024)
        report = self.cycle(insp, actuator)
        self.assertEqual({UUID}, actuator.carrier.adopted)
        b = report.guests[UUID]
        self.assertEqual(('grow', True), (b.action, b.applied))
        self.assertIn('pressure', b.reason)
        self.assertGreaterEqual(b.target_mb, 3 * 1024)

    def test_own_history_wins(self):
        # an agent restarted with its saved state: the element is not
        # used, whatever it says
        conn = fakes.FakeConnection(self.libvirt, None)
        conn.add(UUID, 'instance-c1', xml=domain_xml(
            demand=(3500, 3000, iso(EPOCH))), stats=self.stats(3.5))
        insp, actuator = self.agent(conn)
        actuator.policy.restore_state({'demand': {UUID: [[100, 600.0]]}})
        report = self.cycle(insp, actuator)
        self.assertEqual(set(), actuator.carrier.adopted)
        self.assertAlmostEqual(600 + 409.6, report.guests[UUID].target_mb)

    def test_off(self):
        self.conf.set_override('demand_metadata', False, 'drs_balloon')
        _conn, dom, *_source = self.source()
        self.assertEqual([], dom.metadata_calls)
        dom.xml = domain_xml(demand=(3072, 3000, iso(EPOCH)))
        arrived, insp, actuator = self.migrate(dom.XMLDesc(0))
        self.cycle(insp, actuator)
        self.assertEqual(set(), actuator.carrier.adopted)
