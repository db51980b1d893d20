# SPDX-License-Identifier: Apache-2.0
import threading
import time
from unittest import mock

import fixtures
from oslotest import base

from nova_drs.agent import hoststats
from nova_drs.agent import inspector
from nova_drs.agent import manager
from nova_drs.agent import publisher
from nova_drs.notifications import payload
from tests.unit.agent import fakes
from tests.unit import clusters
from tests.unit import fake_time

GIB = fakes.GIB_KIB
UUID_A = '00000000-0000-0000-0000-00000000000a'
#: seconds a test waits for a thread at most
BOUND = 10


class RecordingNotifier:
    def __init__(self):
        self.sent = []

    def sample(self, ctxt, event_type, doc):
        payload.validate(doc, event_type)
        self.sent.append((event_type, doc))

    def of(self, event_type):
        return [d for e, d in self.sent if e == event_type]


class FakeHost:
    """Host samples 10 s apart; ``available`` in KiB can be changed."""

    def __init__(self):
        self.t = 0.0
        self.available = 8 * GIB

    def read(self):
        self.t += 10.0
        return fakes.host_sample(self.t, busy=int(self.t * 10),
                                 idle=int(self.t * 30),
                                 avail_kib=self.available)


class ManagerTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.libvirt = fakes.make_module()
        self.useFixture(fixtures.MockPatchObject(inspector, 'libvirt',
                                                 self.libvirt))
        self.useFixture(fixtures.MockPatchObject(inspector,
                                                 'start_event_loop'))
        self.conn = fakes.FakeConnection(self.libvirt, None)
        self.dom = self.conn.add(UUID_A, 'instance-a')
        self.libvirt.next_connection = self.conn
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.conf = clusters.conf(drs_agent__host='compute-1',
                                  drs_agent__interval=0.5,
                                  drs_agent__state_path=self.state_dir,
                                  drs__memory_threshold=0.8,
                                  drs__persistence_window=1,
                                  drs__persistence_count=1)
        self.host = FakeHost()
        self.notifier = RecordingNotifier()

    def make(self):
        pub = publisher.Publisher(self.conf, notifier=self.notifier)
        insp = inspector.LibvirtInspector(clock=lambda: self.host.t)
        agent = manager.AgentManager(self.conf, inspector=insp,
                                     host_reader=self.host, publisher=pub)
        agent.start()
        self.addCleanup(agent.stop)
        return agent

    def flush(self, agent):
        deadline = time.monotonic() + 5
        while agent.publisher.pending and time.monotonic() < deadline:
            time.sleep(0.005)


class TestCycle(ManagerTestCase):

    def test_metrics_payload(self):
        agent = self.make()
        first = agent.run_cycle()
        self.dom.stats = fakes.guest_stats(cpu_time=3 * 10 ** 9)
        second = agent.run_cycle()
        self.flush(agent)
        self.assertEqual([first, second],
                         self.notifier.of(payload.METRICS_EVENT))
        self.assertEqual('1.2', second['version'])
        self.assertEqual([1, 2], [first['sequence'], second['sequence']])
        self.assertEqual('compute-1', second['host']['name'])
        self.assertEqual(10.0, second['host']['interval_s'])
        self.assertEqual(0.25, second['host']['cpu']['util'])
        # the [drs] thresholds it judged the host by, for the balancer
        self.assertEqual({'cpu': 0.85, 'memory': 0.8, 'disk': 0.9,
                          'network': 0.9}, second['host']['thresholds'])
        payload.validate(second)
        (guest,) = second['guests']
        self.assertEqual(UUID_A, guest['uuid'])
        self.assertIsNone(first['guests'][0]['cpu_util'])
        # 2 s of CPU in 10 s
        self.assertEqual(0.2, guest['cpu_util'])
        self.assertEqual('adaptive', second['balloon']['policy'])
        self.assertTrue(second['agent']['libvirt_connected'])
        self.assertEqual(2, agent.cycles)

    def test_balloon_applied(self):
        self.host.available = GIB // 2
        # the policy's rates are per second: its first cycle counts one
        # interval, 10 s here as between the fake host's samples
        self.conf.set_override('interval', 10.0, 'drs_agent')
        # every page backed by the host (RSS = balloon size)
        self.dom.stats = fakes.guest_stats(rss=4 * GIB)
        agent = self.make()
        p = agent.run_cycle()
        self.assertEqual([(round((4096 - 204.8) * 1024), 1)],
                         self.dom.memory_calls)
        self.assertEqual('shrink', p['guests'][0]['balloon']['action'])
        self.assertTrue(p['guests'][0]['balloon']['applied'])
        self.assertEqual(204.8, p['balloon']['shrunk_mb'])

    def test_reports_libvirt_down_every_cycle(self):
        self.host.available = GIB // 2
        self.conf.set_override('interval', 10.0, 'drs_agent')
        agent = self.make()
        agent.run_cycle()
        self.assertEqual(1, len(self.dom.memory_calls))
        self.conn.alive = False
        self.libvirt.open_error = fakes.libvirtError('down', 38, 7)
        down = [agent.run_cycle(), agent.run_cycle()]
        self.flush(agent)
        # published (and valid: the notifier validates), host from /proc,
        # no guests, nothing ballooned
        self.assertEqual(down, self.notifier.of(payload.METRICS_EVENT)[1:])
        for p in down:
            self.assertFalse(p['agent']['libvirt_connected'])
            self.assertEqual([], p['guests'])
            self.assertEqual('compute-1', p['host']['name'])
            self.assertEqual(16384.0, p['host']['memory']['total_mb'])
            self.assertEqual((0.0, 0.0), (p['balloon']['shrunk_mb'],
                                          p['balloon']['grown_mb']))
        self.assertEqual(1, len(self.dom.memory_calls))
        # libvirtd is back: so are the guests
        self.libvirt.open_error = None
        back = fakes.FakeConnection(self.libvirt, None)
        back.add(UUID_A, 'instance-a')
        self.libvirt.next_connection = back
        p = agent.run_cycle()
        self.assertTrue(p['agent']['libvirt_connected'])
        self.assertEqual([UUID_A], [g['uuid'] for g in p['guests']])
        self.assertEqual(0, agent.failed_cycles)

    def test_guests_unreadable_counts_as_libvirt_down(self):
        # libvirtd answers but refuses to list the guests: they are
        # unknown, the report must not say "connected, no guests"
        agent = self.make()
        agent.run_cycle()

        def refuse(*args):
            raise fakes.libvirtError('internal error', 1, 10)
        self.conn.getAllDomainStats = refuse
        p = agent.run_cycle()
        self.assertTrue(agent.inspector.connected)
        self.assertFalse(p['agent']['libvirt_connected'])
        self.assertEqual([], p['guests'])

    def test_guest_gone(self):
        agent = self.make()
        agent.run_cycle()
        self.dom.vanished = True
        with mock.patch.object(agent.actuator, 'forget',
                               wraps=agent.actuator.forget) as forget:
            p = agent.run_cycle()
        self.assertEqual([], p['guests'])
        forget.assert_called_once_with([UUID_A])

    def test_hotspot_raised_then_cleared(self):
        agent = self.make()
        agent.run_cycle()
        self.host.available = GIB
        agent.run_cycle()
        agent.run_cycle()
        self.host.available = 8 * GIB
        agent.run_cycle()
        self.flush(agent)
        raised, cleared = self.notifier.of(payload.HOTSPOT_EVENT)
        self.assertEqual((['memory'], ['memory'], []),
                         (raised['hot'], raised['raised'],
                          raised['cleared']))
        self.assertEqual(([], [], ['memory']),
                         (cleared['hot'], cleared['raised'],
                          cleared['cleared']))
        self.assertEqual(0.8, raised['thresholds']['memory'])
        self.assertEqual('compute-1', raised['host'])

    def test_hotspot_notifications_off(self):
        self.conf.set_override('hotspot_notifications', False, 'drs_agent')
        agent = self.make()
        self.host.available = GIB
        agent.run_cycle()
        self.flush(agent)
        self.assertEqual([], self.notifier.of(payload.HOTSPOT_EVENT))


class TestRun(ManagerTestCase):

    def test_runs_until_stopped_and_survives_failures(self):
        clock = self.useFixture(fake_time.FakeTime())
        agent = self.make()
        real = agent.run_cycle
        calls = []
        stop = threading.Event()

        def cycle():
            calls.append(clock.now)
            if len(calls) == 1:
                raise RuntimeError('boom')
            if len(calls) == 3:
                stop.set()
            return real()
        agent.run_cycle = cycle
        with self.assertLogs('nova_drs.agent.manager', 'ERROR') as logs:
            thread = threading.Thread(target=agent.run, args=(stop,))
            thread.start()
            thread.join(BOUND)
        self.assertFalse(thread.is_alive())
        # at once, then on the interval (0.5 s), the failure included
        self.assertEqual([0.0, 0.5, 1.0], calls[:3])
        self.assertEqual(1, agent.failed_cycles)
        self.assertIn('Agent cycle failed', logs.output[0])
        self.assertIn('RuntimeError: boom', logs.output[0])

    def test_run_returns_when_the_cycle_in_progress_ended(self):
        agent = self.make()
        entered, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def cycle():
            entered.set()
            release.wait(BOUND)
        agent.run_cycle = cycle
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,))
        thread.start()
        self.assertTrue(entered.wait(BOUND))
        stop.set()
        thread.join(0.05)
        self.assertTrue(thread.is_alive())
        release.set()
        thread.join(BOUND)
        self.assertFalse(thread.is_alive())
        self.assertFalse(any(t.name.startswith('drs-agent-cycle')
                             for t in threading.enumerate()))

    def test_stop(self):
        agent = self.make()
        agent.run_cycle()
        agent.stop()
        self.assertTrue(self.conn.closed)

    def test_demand_estimates_survive_a_restart(self):
        agent = self.make()
        agent.run_cycle()
        peak = agent.actuator.policy.demand.peak(UUID_A)
        self.assertGreater(peak, 0)
        agent.stop()
        again = self.make()
        self.assertEqual(peak, again.actuator.policy.demand.peak(UUID_A))


class TestHostReader(ManagerTestCase):

    def make_default_reader(self):
        pub = publisher.Publisher(self.conf, notifier=self.notifier)
        insp = inspector.LibvirtInspector(clock=lambda: self.host.t)
        return manager.AgentManager(self.conf, inspector=insp,
                                    publisher=pub).host_reader

    def test_all_cpus_by_default(self):
        reader = self.make_default_reader()
        self.assertIsInstance(reader, hoststats.HostStatsReader)
        self.assertIsNone(reader.cpus)

    def test_cpu_set(self):
        # a CPU of this host
        with open('/proc/stat') as f:
            cpu = int(f.read().split('\ncpu', 1)[1].split()[0])
        self.conf.set_override('cpu_set', str(cpu), 'drs_agent')
        reader = self.make_default_reader()
        self.assertEqual(frozenset({cpu}), reader.cpus)
        self.assertEqual(1, reader.read().cpu_count)
