# SPDX-License-Identifier: Apache-2.0
from unittest import mock

import fixtures
from oslotest import base

from nova_drs.agent import inspector
from tests.unit.agent import fakes

UUID_A = '00000000-0000-0000-0000-00000000000a'
UUID_B = '00000000-0000-0000-0000-00000000000b'


class InspectorTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.libvirt = fakes.make_module()
        self.useFixture(fixtures.MockPatchObject(inspector, 'libvirt',
                                                 self.libvirt))
        self.event_loop = self.useFixture(fixtures.MockPatchObject(
            inspector, 'start_event_loop')).mock
        self.conn = fakes.FakeConnection(self.libvirt, None)
        self.a = self.conn.add(UUID_A, 'instance-a', xml=fakes.domain_xml(
            'instance-a', floor_mb=1024))
        self.b = self.conn.add(UUID_B, 'instance-b', xml=fakes.domain_xml(
            'instance-b', balloon="model='virtio' freePageReporting='on'"))
        self.libvirt.next_connection = self.conn
        self.clock = 1000.0
        self.inspector = inspector.LibvirtInspector(
            'qemu:///system', 8.0, clock=lambda: self.clock)
        self.inspector.start()
        self.event_loop.assert_called_once_with()

    def by_uuid(self):
        return {s.uuid: s for s in self.inspector.sample()}


class TestSampling(InspectorTestCase):

    def test_one_call_for_all_guests(self):
        samples = self.by_uuid()
        self.assertEqual({UUID_A, UUID_B}, set(samples))
        self.assertEqual(1, len(self.conn.stats_calls))
        stats, flags = self.conn.stats_calls[0]
        self.assertEqual(1 | 2 | 4 | 8 | 16 | 32, stats)
        self.assertEqual(1, flags)

    def test_sample_contents(self):
        self.a.stats = fakes.guest_stats(cpu_time=5 * 10 ** 9, vcpus=2,
                                         rd_bytes=8192, rx_bytes=100)
        s = self.by_uuid()[UUID_A]
        self.assertEqual('instance-a', s.name)
        self.assertEqual('running', s.state)
        self.assertEqual(5 * 10 ** 9, s.cpu_time)
        self.assertEqual(2, s.vcpus)
        self.assertEqual([2500000000, 2500000000], s.vcpu_times)
        self.assertEqual(4194304, s.balloon['current'])
        self.assertEqual(2097152, s.balloon['usable'])
        self.assertEqual(8192, s.block['rd.bytes'])
        self.assertEqual(2, s.block['rd.reqs'])
        self.assertEqual(100, s.net['rx.bytes'])
        self.assertEqual(1000.0, s.monotonic)
        self.assertFalse(s.migrating)
        # libvirt without vcpu.<n>.delay: no run-queue delays
        self.assertIsNone(s.vcpu_delays)

    def test_run_queue_delays(self):
        self.a.stats = fakes.guest_stats(vcpus=2)
        self.a.stats.update({'vcpu.0.delay': 7, 'vcpu.1.delay': 9})
        self.assertEqual([7, 9], self.by_uuid()[UUID_A].vcpu_delays)
        # one vCPU without it: none (a partial sum would understate)
        del self.a.stats['vcpu.1.delay']
        self.assertIsNone(self.by_uuid()[UUID_A].vcpu_delays)

    def test_configuration_from_xml(self):
        samples = self.by_uuid()
        a, b = samples[UUID_A].config, samples[UUID_B].config
        self.assertTrue(a.has_balloon)
        self.assertTrue(a.autodeflate)
        self.assertFalse(a.free_page_reporting)
        self.assertEqual(10, a.stats_period)
        self.assertEqual(1024.0, a.floor_mb)
        self.assertFalse(b.autodeflate)
        self.assertTrue(b.free_page_reporting)
        self.assertIsNone(b.floor_mb)

    def test_xml_read_once_then_after_lifecycle_event(self):
        self.inspector.sample()
        self.inspector.sample()
        self.assertEqual(1, self.a.xml_calls)
        self.conn.fire(self.libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.a,
                       self.libvirt.VIR_DOMAIN_EVENT_DEFINED, 0)
        self.inspector.sample()
        self.assertEqual(2, self.a.xml_calls)
        self.assertEqual(1, self.b.xml_calls)

    def test_guest_vanishing_mid_sample_is_skipped(self):
        real = self.conn.getAllDomainStats

        def stats_then_vanish(*args):
            records = real(*args)
            self.a.vanished = True
            return records
        self.conn.getAllDomainStats = stats_then_vanish
        self.assertEqual({UUID_B}, set(self.by_uuid()))
        self.assertTrue(self.inspector.connected)

    def test_other_guest_error_skips_that_guest_only(self):
        def bad_xml(flags):
            raise fakes.libvirtError('boom', 1, 10)
        self.a.XMLDesc = bad_xml
        self.assertEqual({UUID_B}, set(self.by_uuid()))

    def test_paused_for_migration_counts_as_migrating(self):
        self.a.stats = fakes.guest_stats(state=3, reason=2)
        s = self.by_uuid()[UUID_A]
        self.assertEqual('paused', s.state)
        self.assertTrue(s.migrating)

    def test_migration_events(self):
        lv = self.libvirt
        self.conn.fire(lv.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, self.a, 1)
        self.assertTrue(self.by_uuid()[UUID_A].migrating)
        self.conn.fire(lv.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, self.a, {})
        self.assertFalse(self.by_uuid()[UUID_A].migrating)
        self.conn.fire(lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.b,
                       lv.VIR_DOMAIN_EVENT_SUSPENDED,
                       lv.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)
        self.assertTrue(self.by_uuid()[UUID_B].migrating)
        self.conn.fire(lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.b,
                       lv.VIR_DOMAIN_EVENT_RESUMED, 0)
        self.assertFalse(self.by_uuid()[UUID_B].migrating)

    def test_unknown_state(self):
        self.a.stats = fakes.guest_stats(state=42)
        self.assertEqual('unknown', self.by_uuid()[UUID_A].state)


class TestConnection(InspectorTestCase):

    def test_empty_uri_means_qemu_system(self):
        self.assertEqual('qemu:///system',
                         inspector.LibvirtInspector('').uri)

    def test_connects_with_keepalive_and_events(self):
        self.assertEqual([self.conn], self.libvirt.opened)
        self.assertEqual('qemu:///system', self.conn.uri)
        self.assertEqual((5, 3), self.conn.keepalive)
        self.assertEqual(3, len(self.conn.callbacks))
        self.assertEqual(1, self.inspector.connections)

    def test_lost_connection_reconnects(self):
        self.inspector.sample()
        self.conn.alive = False
        # libvirtd restarting: the immediate reconnection fails
        self.libvirt.open_error = fakes.libvirtError('no socket', 38, 7)
        self.assertRaises(inspector.Unavailable, self.inspector.sample)
        self.assertFalse(self.inspector.connected)
        # it is back: the next attempt, a second later, succeeds
        self.libvirt.open_error = None
        new = fakes.FakeConnection(self.libvirt, None)
        new.add(UUID_A, 'instance-a')
        self.libvirt.next_connection = new
        self.clock += 1.0
        self.assertEqual({UUID_A}, set(self.by_uuid()))
        self.assertEqual(2, self.inspector.connections)
        self.assertTrue(self.conn.closed)

    def test_connection_dropped_during_call(self):
        def broken(*args):
            raise fakes.broken()
        self.conn.getAllDomainStats = broken
        self.assertRaises(inspector.Unavailable, self.inspector.sample)
        self.assertFalse(self.inspector.connected)

    def test_backoff_while_libvirtd_is_down(self):
        self.conn.alive = False
        self.libvirt.open_error = fakes.libvirtError(
            'Failed to connect socket', 38, 7)
        opened = len(self.libvirt.opened)
        # delays 1, 2, 4, 8, 8 (the cap): no attempt in between
        for delay in (1, 2, 4, 8, 8):
            self.assertRaises(inspector.Unavailable, self.inspector.sample)
            self.clock += delay - 0.5
            e = self.assertRaises(inspector.Unavailable,
                                  self.inspector.sample)
            self.assertIn('next attempt', str(e))
            self.clock += 0.5
        self.assertEqual(opened, len(self.libvirt.opened))
        self.libvirt.open_error = None
        self.assertEqual(set(), set(self.by_uuid()))
        self.assertTrue(self.inspector.connected)

    def test_first_connection_failure_is_not_fatal(self):
        module = fakes.make_module()
        module.open_error = fakes.libvirtError('no daemon', 38, 7)
        with mock.patch.object(inspector, 'libvirt', module):
            insp = inspector.LibvirtInspector()
            insp.start()
            self.assertFalse(insp.connected)

    def test_close(self):
        self.inspector.close()
        self.assertTrue(self.conn.closed)
        self.assertEqual({}, self.conn.callbacks)
        self.assertFalse(self.inspector.connected)

    def test_sampling_and_events_use_a_read_only_connection(self):
        self.inspector.sample()
        self.assertFalse(self.inspector.job_active(UUID_A))
        self.assertEqual([True], [c.readonly for c in self.libvirt.opened])
        self.assertTrue(self.conn.readonly)
        self.assertEqual(3, len(self.conn.callbacks))
        self.assertEqual(0, self.inspector.write_connections)

    def test_close_closes_both_connections(self):
        self.inspector.set_memory(UUID_A, 1024)
        writer = self.libvirt.opened[-1]
        self.inspector.close()
        self.assertTrue(self.conn.closed)
        self.assertTrue(writer.closed)

    def test_libvirt_missing(self):
        with mock.patch.object(inspector, 'libvirt', None):
            e = self.assertRaises(inspector.InspectorError,
                                  inspector.LibvirtInspector.check_available)
        self.assertIn('libvirt-python', str(e))


class TestActions(InspectorTestCase):

    def test_set_memory_is_live(self):
        self.inspector.set_memory(UUID_A, 1048576.4)
        self.assertEqual([(1048576, 1)], self.a.memory_calls)

    def test_set_memory_goes_through_a_read_write_connection(self):
        # the read-only one refuses, as libvirtd does
        e = self.assertRaises(fakes.libvirtError,
                              self.conn.lookupByUUIDString(
                                  UUID_A).setMemoryFlags, 1024, 1)
        self.assertIn('read only access', str(e))
        self.inspector.set_memory(UUID_A, 2048)
        self.inspector.set_memory(UUID_B, 4096)
        self.assertEqual([True, False],
                         [c.readonly for c in self.libvirt.opened])
        self.assertEqual(1, self.inspector.write_connections)
        self.assertEqual([(2048, 1)], self.a.memory_calls)
        self.assertEqual([(4096, 1)], self.b.memory_calls)

    def test_read_write_connection_reconnects(self):
        self.inspector.set_memory(UUID_A, 2048)
        writer = self.libvirt.opened[-1]
        writer.alive = False
        self.libvirt.open_error = fakes.libvirtError('no socket', 38, 7)
        self.assertRaises(inspector.Unavailable, self.inspector.set_memory,
                          UUID_A, 1024)
        self.assertTrue(writer.closed)
        # its back-off is its own: a second later it is tried again
        self.libvirt.open_error = None
        self.assertRaises(inspector.Unavailable, self.inspector.set_memory,
                          UUID_A, 1024)
        self.clock += 1.0
        self.inspector.set_memory(UUID_A, 1024)
        self.assertEqual([(2048, 1), (1024, 1)], self.a.memory_calls)
        self.assertEqual(2, self.inspector.write_connections)
        # sampling was never disturbed
        self.assertEqual(1, self.inspector.connections)
        self.assertEqual({UUID_A, UUID_B}, set(self.by_uuid()))

    def test_set_memory_of_vanished_guest(self):
        self.a.vanished = True
        self.assertRaises(inspector.GuestGone, self.inspector.set_memory,
                          UUID_A, 1024)
        self.assertTrue(self.inspector.connected)

    def test_set_memory_refused(self):
        def refuse(kib, flags):
            raise fakes.libvirtError('cannot', 1, 10)
        self.a.setMemoryFlags = refuse
        e = self.assertRaises(inspector.InspectorError,
                              self.inspector.set_memory, UUID_A, 1024)
        self.assertNotIsInstance(e, inspector.GuestGone)

    def test_job_active(self):
        self.assertFalse(self.inspector.job_active(UUID_A))
        self.a.job = self.libvirt.VIR_DOMAIN_JOB_UNBOUNDED
        self.assertTrue(self.inspector.job_active(UUID_A))
        self.a.job = None   # driver without job info
        self.assertFalse(self.inspector.job_active(UUID_A))


class TestEventLoop(base.BaseTestCase):

    def test_started_once_per_process(self):
        module = fakes.make_module()
        module.virEventRegisterDefaultImpl = mock.Mock(return_value=0)
        module.registerErrorHandler = mock.Mock()
        with mock.patch.object(inspector, 'libvirt', module):
            inspector.start_event_loop()
            inspector.start_event_loop()
        module.virEventRegisterDefaultImpl.assert_called_once_with()
        module.registerErrorHandler.assert_called_once_with(
            inspector._libvirt_error, None)

    def run_loop(self, outcomes):
        """Run the loop on iterations that raise or return ``outcomes``.

        Returns the waits and the log lines; the loop ends when the
        outcomes run out.
        """
        class Done(BaseException):
            pass

        outcomes = list(outcomes)

        def run_default_impl():
            if not outcomes:
                raise Done()
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        module = mock.Mock(virEventRunDefaultImpl=run_default_impl)
        waits = []
        with self.assertLogs('nova_drs.agent.inspector', 'ERROR') as logs:
            self.assertRaises(Done, inspector._run_event_loop, module,
                              sleep=waits.append)
        return waits, logs.output

    def test_failures_back_off_and_are_logged(self):
        waits, logs = self.run_loop([RuntimeError('bug')] * 7)
        # 1, 2, 4, 8, 16 s plus up to 0.5 s, then 30 s at most
        self.assertEqual(7, len(waits))
        for n, wait in enumerate(waits[:5]):
            self.assertTrue(2 ** n <= wait <= 2 ** n + 0.5, waits)
        for wait in waits[5:]:
            self.assertTrue(29.5 <= wait <= 30.0, waits)
        self.assertEqual(7, len(logs))
        self.assertIn('libvirt event loop failed (1 in a row); restarting '
                      'it in %.1f s' % waits[0], logs[0])
        self.assertIn('RuntimeError: bug', logs[0])

    def test_an_iteration_that_works_resets_the_back_off(self):
        waits, logs = self.run_loop([RuntimeError('bug'), RuntimeError('bug'),
                                     0, 0, RuntimeError('bug')])
        self.assertEqual(3, len(waits))
        self.assertTrue(2 <= waits[1] <= 2.5, waits)
        self.assertTrue(1 <= waits[2] <= 1.5, waits)
        self.assertIn('(1 in a row)', logs[2])


class TestParseDomainXml(base.BaseTestCase):

    def test_no_balloon(self):
        config = inspector.parse_domain_xml(fakes.domain_xml('x',
                                                             balloon=None))
        self.assertFalse(config.has_balloon)
        config = inspector.parse_domain_xml(fakes.domain_xml(
            'x', balloon="model='none'"))
        self.assertFalse(config.has_balloon)

    def test_no_stats_period(self):
        config = inspector.parse_domain_xml(fakes.domain_xml(
            'x', stats_period=0))
        self.assertTrue(config.has_balloon)
        self.assertEqual(0, config.stats_period)

    def test_invalid_floor_is_ignored(self):
        for value in ('lots', '-5'):
            config = inspector.parse_domain_xml(fakes.domain_xml(
                'x', floor_mb=value))
            self.assertIsNone(config.floor_mb)

    def test_nova_domain(self):
        xml = """<domain type='kvm'>
          <name>instance-00000001</name>
          <metadata>
            <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
              <nova:name>vm1</nova:name>
            </nova:instance>
            <drs:balloon xmlns:drs="https://opendev.org/openstack/nova-drs"
                         floor_mb="2048"/>
          </metadata>
          <devices>
            <memballoon model='virtio' autodeflate='on'
                        freePageReporting='on'>
              <stats period='10'/>
              <address type='pci'/>
            </memballoon>
          </devices>
        </domain>"""  # noqa: E501
        config = inspector.parse_domain_xml(xml)
        self.assertEqual(inspector.GuestConfig(True, True, True, 10, 2048.0),
                         config)
