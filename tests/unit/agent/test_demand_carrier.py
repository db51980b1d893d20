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


def element_xml(floor_mb=None, demand=None):
    """A domain's <drs:balloon> element, as an operator or agent left it."""
    attrs = ' floor_mb="%s"' % floor_mb if floor_mb is not None else ''
    child = ''
    if demand is not None:
        child = '<drs:demand peak_mb="%s" history_s="%s" at="%s"/>' % demand
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
