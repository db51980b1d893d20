# SPDX-License-Identifier: Apache-2.0
"""The agent against a real libvirtd, real QEMU (TCG) guests, RabbitMQ.

Needs the lab of tools/lab/setup-agent-lab.sh; see tests/functional/agent/
lab.py. Every guest is a busybox initramfs booting in a few seconds.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import oslo_messaging

from nova_drs.agent import inspector as inspector_mod
from nova_drs.agent import manager
from nova_drs.agent import publisher
from nova_drs.balancer.intake import listener as listener_mod
from nova_drs.balancer.view import host_view
from nova_drs import config
from nova_drs.notifications import payload as payload_mod
from tests.functional.agent import base
from tests.functional.agent import lab
from tests.unit.balancer import test_host_view as view_docs

GUEST_A = {'memory_mib': 512, 'autodeflate': True,
           'free_page_reporting': True, 'floor_mb': 192}
GUEST_B = {'memory_mib': 512, 'autodeflate': False}

# faster reclaim (10 % of flavor memory per second, a 1 s cycle), and a
# guest counts as allocating fast from 5 % of its flavor memory a second
SQUEEZE = "[drs_balloon]\nshrink_rate = 0.1\npressure_drop_rate = 0.05\n"
SQUEEZE_DRY_RUN = SQUEEZE + "dry_run = true\n"


def balloon_trace(notifier, guests, since=0.0):
    """Rows (seconds, guest, action, target, actual, usable) from payloads."""
    rows = []
    with notifier.lock:
        messages = list(notifier.messages)
    start = None
    for t, event, p in messages:
        if event != payload_mod.METRICS_EVENT or t < since:
            continue
        start = t if start is None else start
        for g in guests:
            entry = base.guest_entry(p, g)
            if entry is None:
                continue
            b, m = entry['balloon'], entry['memory']
            rows.append((t - start, g.name, b['action'] if b['applied']
                         else '-', b['target_mb'], m['actual_mb'],
                         m['available_mb']))
    return rows


def format_trace(rows):
    lines = ['%6s  %-9s %-7s %8s %8s %8s' % ('t (s)', 'guest', 'applied',
                                             'target', 'actual', 'usable')]
    for t, name, action, target, actual, usable in rows:
        lines.append('%6.1f  %-9s %-7s %8s %8.0f %8s' % (
            t, name, action, '-' if target is None else '%.0f' % target,
            actual, '-' if usable is None else '%.0f' % usable))
    return '\n'.join(lines)


class TestAgentOnGuests(base.AgentLabTestCase):

    GUESTS = {'a': GUEST_A, 'b': GUEST_B}

    def setUp(self):
        super().setUp()
        # every test starts from idle guests with full balloons
        for g in self.guests.values():
            self.assertTrue(g.alive(), '%s died in an earlier test'
                            % g.name)
            g.command('free')
            g.dom.setMemoryFlags(g.memory_mib * 1024,
                                 lab.libvirt.VIR_DOMAIN_AFFECT_LIVE)
        for g in self.guests.values():
            lab.wait_for(lambda g=g: g.actual_mib() == g.memory_mib
                         and g.cached_mib() == g.memory_mib, 30,
                         what='%s balloon reset' % g.name)

    def test_stats_for_every_guest(self):
        conf = self.load_conf()
        agent = self.start_agent(conf)
        a, b = self.guests['a'], self.guests['b']

        def complete(p):
            entries = [base.guest_entry(p, g) for g in (a, b)]
            return None not in entries and all(
                e['cpu_util'] is not None and e['memory']['stats']
                for e in entries)
        self.wait_payload(complete, 30, 'CPU and memory of both guests')
        # disk rates: the guest reads 8 MiB from its virtio disk
        a.command('read 8')
        p = self.wait_payload(
            lambda p: (base.guest_entry(p, a)['disk']['read_mb_s'] or 0) > 0,
            30, 'a disk read rate from guest a')
        payload_mod.validate(p)
        host = p['host']
        self.assertEqual(base.HOST, host['name'])
        self.assertGreater(host['memory']['total_mb'], 0)
        self.assertIsNotNone(host['cpu']['util'])
        ea, eb = base.guest_entry(p, a), base.guest_entry(p, b)
        for entry, g in ((ea, a), (eb, b)):
            self.assertEqual(g.name, entry['name'])
            self.assertEqual('running', entry['state'])
            self.assertEqual(1, entry['vcpus'])
            self.assertEqual(1, len(entry['vcpu_util']))
            self.assertEqual(512, entry['memory']['max_mb'])
            self.assertGreater(entry['memory']['available_mb'], 200)
            self.assertGreater(entry['memory']['used_mb'], 0)
            self.assertIsNotNone(entry['memory']['major_fault_rate'])
            self.assertEqual({'rx_mb_s': 0.0, 'tx_mb_s': 0.0},
                             entry['network'])
        self.assertTrue(ea['balloon']['autodeflate'])
        self.assertTrue(ea['balloon']['free_page_reporting'])
        self.assertEqual(192, ea['balloon']['floor_mb'])
        self.assertIn(b.uuid, p['balloon']['without_autodeflate'])
        self.assertIn(b.uuid, p['balloon']['without_free_page_reporting'])
        self.assertNotIn(a.uuid, p['balloon']['without_autodeflate'])
        self.assertEqual(0, agent.failed_cycles)

    def test_demand_estimate_travels_in_the_migratable_xml(self):
        a, b = self.guests['a'], self.guests['b']
        # the metadata as the lab defined it (a: the operator's floor; b:
        # none), back for the other tests
        for g, element in ((a, '<balloon floor_mb="192"/>'), (b, None)):
            self.addCleanup(g.dom.setMetadata,
                            lab.libvirt.VIR_DOMAIN_METADATA_ELEMENT, element,
                            'drs' if element else None,
                            inspector_mod.DRS_NAMESPACE,
                            lab.libvirt.VIR_DOMAIN_AFFECT_LIVE)
        source = self.start_agent(self.load_conf())

        def carried():
            # what Nova sends to the destination of a live migration
            return inspector_mod.parse_domain_xml(a.dom.XMLDesc(
                lab.libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        xml = lab.wait_for(lambda: carried().demand and carried(), 30,
                           what='the demand estimate of guest a in its '
                                'migratable XML')
        estimate = source.actuator.policy.guest_estimate(a.uuid)
        self.assertAlmostEqual(estimate.peak_mb, xml.demand.peak_mb,
                               delta=0.05 * 512)
        self.assertLess(xml.demand.peak_mb, 512)
        self.assertLess(abs(time.time() - xml.demand.at), 60)
        # the operator's floor is still there
        self.assertEqual(192.0, xml.floor_mb)
        self.assertEqual(0, source.failed_cycles)

        # a destination's agent: a state of its own, no history of a
        conf = config.load([self.agent_conf("""\
            [drs_agent]
            state_path = %s
            [drs_balloon]
            dry_run = true
            """ % os.path.join(self.tmp, 'destination'))])
        destination = manager.AgentManager(
            conf, publisher=publisher.Publisher(
                conf, notifier=base.RecordingNotifier()))
        destination.start()
        try:
            destination.run_cycle()
        finally:
            destination.stop()
        self.assertIn(a.uuid, destination.actuator.carrier.adopted)
        policy = destination.actuator.policy
        self.assertGreaterEqual(policy.demand.peak(a.uuid),
                                xml.demand.peak_mb)
        self.assertGreaterEqual(
            policy.demand.history_s(a.uuid, time.monotonic()),
            xml.demand.history_s)
        self.assertEqual(0, destination.failed_cycles)

    def test_samples_through_a_read_only_connection(self):
        # dry run: the agent never needs to write, and never connects to
        # write
        conf = self.load_conf(SQUEEZE_DRY_RUN)
        agent = self.start_agent(conf)
        a, b = self.guests['a'], self.guests['b']
        p = self.wait_payload(
            lambda p: all(base.guest_entry(p, g) and base.guest_entry(
                p, g)['memory']['stats'] for g in (a, b)),
            30, 'statistics of both guests')
        payload_mod.validate(p)
        self.assertEqual(1, agent.inspector.connections)
        self.assertEqual(0, agent.inspector.write_connections)
        # the connection it samples through is refused any change by
        # libvirtd
        conn = agent.inspector._connection()
        dom = conn.lookupByUUIDString(a.uuid)
        e = self.assertRaises(lab.libvirt.libvirtError, dom.setMemoryFlags,
                              256 * 1024, lab.libvirt.VIR_DOMAIN_AFFECT_LIVE)
        self.assertEqual(lab.libvirt.VIR_ERR_OPERATION_DENIED,
                         e.get_error_code())
        self.assertEqual(512, a.actual_mib())
        self.assertEqual(0, agent.failed_cycles)

    def test_reports_libvirtd_down_and_the_balancer_leaves_the_host(self):
        conf = self.load_conf()
        # the balancer's side: the listener's checks and a host view,
        # fed with what the agent publishes
        view = host_view.HostView(conf)
        endpoint = listener_mod.MetricsEndpoint(view)
        agent = self.start_agent(conf)
        notifier = self.notifier
        real_sample = notifier.sample

        def sample_and_deliver(ctxt, event_type, doc):
            real_sample(ctxt, event_type, doc)
            endpoint.sample([{'publisher_id': agent.publisher.publisher_id,
                              'event_type': event_type, 'payload': doc,
                              'metadata': {}}])
        notifier.sample = sample_and_deliver
        a, b = self.guests['a'], self.guests['b']
        self.wait_payload(lambda p: all(base.guest_entry(p, g)
                                        for g in (a, b)), 30, 'both guests')
        lab.wait_for(lambda: view.host(base.HOST), 10, what='the view')
        self.assertTrue(view.host(base.HOST).libvirt_connected)

        def down_reports():
            return [p for p in notifier.payloads()
                    if not p['agent']['libvirt_connected']]

        def back():
            lab.libvirtd('start')
            self.reconnect()
        self.addCleanup(back)
        lab.libvirtd('stop')
        lab.wait_for(lambda: len(down_reports()) >= 2, 30,
                     what='two reports with libvirtd down')
        for p in down_reports():
            self.assertEqual([], p['guests'])
            self.assertEqual(base.HOST, p['host']['name'])
            self.assertGreater(p['host']['memory']['total_mb'], 0)
        self.assertEqual(0, endpoint.stats()['dropped']['malformed'])
        self.assertEqual([base.HOST], view.libvirt_down_hosts())
        state = view.host(base.HOST)
        self.assertFalse(state.stale)
        self.assertEqual({a.uuid, b.uuid}, set(state.guests))
        model = view_docs.model_of([base.HOST],
                                   [(a.uuid, base.HOST, 1, 512),
                                    (b.uuid, base.HOST, 1, 512)])
        report = view.apply(model)
        self.assertEqual(([base.HOST], []), (report.libvirt_down,
                                             report.stale_hosts))
        self.assertEqual([True], list(model.hosts.disabled))
        self.assertEqual([True, True], list(model.instances.opt_out))

        back()
        restarted = time.monotonic()
        self.wait_payload(lambda p: p['agent']['libvirt_connected']
                          and all(base.guest_entry(p, g) for g in (a, b)),
                          60, 'both guests after libvirtd is back')
        lab.wait_for(lambda: not view.libvirt_down_hosts(), 10,
                     what='the host to be available again')
        print('\nlibvirtd down: %d reports with libvirt_connected false; '
              'the host available again %.1f s after libvirtd restarted'
              % (len(down_reports()), time.monotonic() - restarted))
        model = view_docs.model_of([base.HOST], [(a.uuid, base.HOST, 1, 512)])
        self.assertEqual([], view.apply(model).libvirt_down)
        self.assertEqual(0, agent.failed_cycles)
        self.assertTrue(a.alive() and b.alive())

    def test_idle_guests_shrink_then_a_busy_guest_grows_back(self):
        a, b = self.guests['a'], self.guests['b']
        conf = self.load_conf(SQUEEZE)
        # 1100 MiB host: 200 for itself, 1024 for two full guests, so the
        # policy must find ~240 MiB to keep 10 % of it available
        squeezed = base.SqueezedHost(self.conn, total_mb=1100)
        agent = self.start_agent(conf, host_reader=squeezed)
        started = time.monotonic()

        def both_shrunk():
            # the ~234 MiB the host needs, from both (each gives its
            # share of what its shrink returns; how it splits depends on
            # when each resize lands, so only "both gave" is asserted),
            # within one min_change_mb step
            given = [512 - a.actual_mib(), 512 - b.actual_mib()]
            return min(given) >= 48 and sum(given) >= 234 - 16
        try:
            lab.wait_for(both_shrunk, 60,
                         what='both idle guests to be shrunk')
        except AssertionError as e:
            # what the policy did, to tell a slow lab from a policy fault
            raise AssertionError('%s\n%s' % (e, format_trace(balloon_trace(
                self.notifier, (a, b), since=started))))
        shrunk_b = b.actual_mib()
        # what the agent reads is libvirt's cached balloon size, which
        # follows QEMU's up to a second (more on a busy machine) later: at
        # its next cycle it may still see b larger than it is
        seen_b = max(shrunk_b, b.cached_mib())
        # b (no deflate-on-OOM: the agent is its only help) now allocates
        # 320 MiB, 40 MiB a second: more than it has usable
        alloc_at = time.monotonic() - started
        b.command('alloc 320 40')
        lab.wait_for(lambda: 'ALLOC_' in b.console(), 60,
                     what='guest b to finish allocating')
        time.sleep(2)
        rows = balloon_trace(self.notifier, (a, b), since=started)
        trace = format_trace(rows) + (
            '\nguest b starts allocating 320 MiB at t=%.1f s (40 MiB/s);'
            ' %s' % (alloc_at, 'done' if 'ALLOC_DONE' in b.console()
                     else 'FAILED'))
        with open(os.path.join(lab.RUN_DIR, 'balloon-trace.txt'), 'w') as f:
            f.write(trace + '\n')
        print('\nballoon trace (MiB):\n' + trace)
        self.assertIn('ALLOC_DONE 320MB', b.console(), trace)
        self.assertEqual([], b.oom_lines(), trace)
        self.assertTrue(b.alive())
        grown = [r for r in rows if r[1] == b.name and r[2] == 'grow']
        self.assertTrue(grown, 'the agent never grew guest b\n' + trace)
        # b holds 350 MiB of its ~460: it got (nearly) all its memory
        # back, 60 MiB more than it had or, when it had given less than
        # that (both_shrunk accepts 48), its whole flavor (512 MiB, at
        # most one MiB off): shrunk_b + 60 alone cannot be reached then
        self.assertGreaterEqual(b.actual_mib(),
                                min(max(shrunk_b + 60, 470), 511), trace)
        # it kept usable memory all along
        usable = [r[5] for r in rows if r[1] == b.name and r[5] is not None]
        self.assertGreater(min(usable), 0, trace)
        # the floor of guest a (192 MiB from its metadata) held
        self.assertGreaterEqual(a.actual_mib(), 192)
        self.assertGreater(agent.actuator.totals['shrunk_mb'], 100)
        # every MiB b got back was the agent's doing (b has no
        # deflate-on-OOM): the totals count at least that, from the size
        # the agent could read (seen_b: a grow counts from libvirt's
        # cached size, 409 MiB shrunk but 455 still cached once on a busy
        # machine). Not a fixed figure: how much b gave, hence how much it
        # gets back, depends on when each resize landed (b gave as little
        # as 54 MiB on a busy machine)
        self.assertGreaterEqual(agent.actuator.totals['grown_mb'],
                                b.actual_mib() - seen_b - 1, trace)
        # the resizes went through the read-write connection, opened once
        self.assertEqual(1, agent.inspector.write_connections)
        self.assertEqual(0, agent.failed_cycles)

    def test_survives_libvirtd_restart(self):
        conf = self.load_conf()
        agent = self.start_agent(conf)
        a, b = self.guests['a'], self.guests['b']

        def both(p):
            return all(base.guest_entry(p, g) for g in (a, b))
        self.wait_payload(both, 30, 'both guests before the restart')
        connections = agent.inspector.connections
        lab.libvirtd('restart')
        restarted = time.monotonic()
        self.reconnect()
        lab.wait_for(lambda: agent.inspector.connections > connections, 60,
                     what='the agent to reconnect')
        count = len(self.notifier.payloads())
        lab.wait_for(lambda: len(self.notifier.payloads()) >= count + 2
                     and both(self.notifier.payloads()[-1]), 30,
                     what='metrics of both guests after the restart')
        self.assertEqual(0, agent.failed_cycles)
        self.assertTrue(a.alive() and b.alive())
        self.assertLess(time.monotonic() - restarted, 60)

    def test_guest_destroyed_mid_cycle(self):
        # a host so short of memory that every idle guest gives a big step
        # each cycle, the new small guest d included; no change is too
        # small to make, so d's share of the shortfall, however small
        # under a loaded machine's timing, is always applied
        conf = self.load_conf('[drs_balloon]\nshrink_rate = 0.2\n'
                              'min_change_mb = 0\n')
        squeezed = base.SqueezedHost(self.conn, total_mb=700)
        agent = self.start_agent(conf, host_reader=squeezed)
        a, b = self.guests['a'], self.guests['b']
        self.wait_payload(lambda p: base.guest_entry(p, a), 30, 'guest a')
        inspector = agent.inspector
        destroyed = threading.Event()

        # 1. the guest vanishes between getAllDomainStats and the reading
        #    of its XML
        c = lab.Guest(self.conn, 'c', memory_mib=256).start()
        self.addCleanup(c.destroy)
        conn = inspector._connection()
        real_stats = conn.getAllDomainStats

        def stats_then_destroy(*args):
            records = real_stats(*args)
            if any(d.UUIDString() == c.uuid for d, _s in records):
                c.dom.destroy()
                destroyed.set()
            return records
        conn.getAllDomainStats = stats_then_destroy
        lab.wait_for(destroyed.is_set, 30, what='guest c to be sampled')
        count = len(self.notifier.payloads())
        lab.wait_for(lambda: len(self.notifier.payloads()) >= count + 2, 15,
                     what='two more cycles')
        conn.getAllDomainStats = real_stats
        for p in self.notifier.payloads()[count:]:
            self.assertIsNone(base.guest_entry(p, c))
            self.assertIsNotNone(base.guest_entry(p, b))

        # 2. the guest vanishes between the policy's decision and the
        #    balloon resize
        d = lab.Guest(self.conn, 'd', memory_mib=256).start()
        self.addCleanup(d.destroy)
        d.wait_ready()
        real_set_memory = inspector.set_memory
        attempts = []

        def destroy_then_set(uuid, kib):
            if uuid == d.uuid:
                attempts.append(kib)
                d.dom.destroy()
            return real_set_memory(uuid, kib)
        inspector.set_memory = destroy_then_set
        self.addCleanup(setattr, inspector, 'set_memory', real_set_memory)
        lab.wait_for(lambda: attempts, 60,
                     what='a balloon resize of guest d')
        count = len(self.notifier.payloads())
        lab.wait_for(lambda: len(self.notifier.payloads()) >= count + 2, 15,
                     what='two more cycles')
        self.assertIsNone(base.guest_entry(self.notifier.payloads()[-1], d))
        self.assertEqual(0, agent.failed_cycles)
        self.assertTrue(a.alive() and b.alive())

    def test_notifications_through_rabbitmq(self):
        proxy = lab.TcpProxy(lab.broker_address()).start()
        self.addCleanup(proxy.stop)
        # the agent reaches the broker through the proxy
        conf = self.load_conf("""\
            [drs]
            memory_threshold = 0.5
            persistence_window = 1
            persistence_count = 1
            [drs_agent]
            buffer_size = 3
            [oslo_messaging_rabbit]
            rabbit_retry_interval = 1
            rabbit_retry_backoff = 1
            rabbit_interval_max = 2
            """, transport_url=lab.proxied_transport_url(proxy.port))
        topic = conf.drs_agent.topic
        received = []

        class Endpoint:
            def sample(self, ctxt, publisher_id, event_type, payload,
                       metadata):
                received.append((time.monotonic(), publisher_id,
                                 event_type, payload))

        transport = oslo_messaging.get_notification_transport(
            conf, url=lab.TRANSPORT_URL)
        self.addCleanup(transport.cleanup)
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=topic)], [Endpoint()],
            executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        squeezed = base.SqueezedHost(self.conn, total_mb=1100)
        agent = self.start_agent(conf, host_reader=squeezed,
                                 real_publisher=True)
        pub = agent.publisher

        def metrics():
            return [r for r in received
                    if r[2] == payload_mod.METRICS_EVENT]
        lab.wait_for(lambda: len(metrics()) >= 2, 30,
                     what='two metrics notifications from RabbitMQ')
        lab.wait_for(lambda: any(r[2] == payload_mod.HOTSPOT_EVENT
                                 for r in received), 30,
                     what='a hotspot notification')
        for _t, publisher_id, event_type, payload in received:
            self.assertEqual('nova-drs-agent:%s' % base.HOST, publisher_id)
            payload_mod.validate(payload, event_type)
        last = metrics()[-1][3]
        self.assertEqual({g.uuid for g in self.guests.values()},
                         {e['uuid'] for e in last['guests']})
        hotspot = [r[3] for r in received
                   if r[2] == payload_mod.HOTSPOT_EVENT][0]
        self.assertIn('memory', hotspot['hot'])

        # the broker goes away for the agent: it buffers, then drops
        proxy.stop()
        cut = time.monotonic()
        lab.wait_for(lambda: pub.dropped >= 2, 30,
                     what='the buffer to overflow')
        self.assertLessEqual(pub.pending, 3)
        before = len(metrics())
        proxy.start()
        lab.wait_for(lambda: pub.pending == 0 and len(metrics()) > before,
                     60, what='the buffer to drain after reconnection')
        late = [r for r in metrics() if r[0] > cut]
        self.assertTrue(late)
        self.assertGreater(agent.cycles, 0)
        self.assertEqual(0, agent.failed_cycles)


class TestRisingDemand(base.AgentLabTestCase):
    """Issue 18 item 4: guests whose demand rises fast on a short host.

    Guests of their own: allocating most of their memory leaves guests
    in a state the other tests do not expect.
    """

    GUESTS = {'c': {'memory_mib': 512, 'autodeflate': True},
              'd': {'memory_mib': 512, 'autodeflate': False}}

    def test_guests_rising_fast_on_a_short_host(self):
        # both guests, shrunk on a host short of memory, allocate most of
        # their flavor within a few seconds, at the same time
        c, d = self.guests['c'], self.guests['d']
        conf = self.load_conf(SQUEEZE)
        squeezed = base.SqueezedHost(self.conn, total_mb=1100)
        self.start_agent(conf, host_reader=squeezed)
        started = time.monotonic()
        lab.wait_for(lambda: c.actual_mib() <= 420 and d.actual_mib() <= 420,
                     60, what='both idle guests to be shrunk')
        shrunk = {g.name: g.actual_mib() for g in (c, d)}
        # 300 MiB each at 100 MiB/s: 3 s, three agent cycles
        for g in (c, d):
            g.command('alloc 300 100')
        for g in (c, d):
            lab.wait_for(lambda g=g: 'ALLOC_' in g.console(), 60,
                         what='guest %s to finish allocating' % g.name)
        time.sleep(2)
        rows = balloon_trace(self.notifier, (c, d), since=started)
        trace = format_trace(rows) + '\nshrunk before: %s' % shrunk
        print('\nballoon trace (MiB):\n' + trace)
        # the policy's pressure threshold: half the margin usable
        short_mb = conf.drs_balloon.guest_margin_min_mb / 2.0
        for g in (c, d):
            self.assertIn('ALLOC_DONE 300MB', g.console(), trace)
            self.assertEqual([], g.oom_lines(), trace)
            self.assertTrue(g.alive())
            mine = [r for r in rows if r[1] == g.name and r[5] is not None]
            self.assertIn('grow', [r[2] for r in mine], trace)
            # every cycle that saw it short grew it in that same cycle:
            # growth within one agent interval of the pressure signal
            for r in mine:
                if r[5] < short_mb and r[4] < g.memory_mib - 1:
                    self.assertEqual('grow', r[2], trace)
            self.assertGreater(min(r[5] for r in mine), 0, trace)
            self.assertGreater(g.actual_mib(), shrunk[g.name], trace)


class TestAutodeflate(base.AgentLabTestCase):

    GUESTS = {'e': {'memory_mib': 512, 'autodeflate': True}}

    def test_dry_run_and_deflate_on_oom(self):
        e = self.guests['e']
        conf = self.load_conf(SQUEEZE_DRY_RUN)
        squeezed = base.SqueezedHost(self.conn, total_mb=600)
        self.start_agent(conf, host_reader=squeezed)
        # dry run: the policy wants to shrink, nothing is applied
        p = self.wait_payload(
            lambda p: base.guest_entry(p, e)['balloon']['action'] == 'shrink',
            30, 'a shrink target for guest e')
        entry = base.guest_entry(p, e)
        self.assertFalse(entry['balloon']['applied'])
        self.assertIn('dry run', entry['balloon']['reason'])
        self.assertTrue(p['balloon']['dry_run'])
        self.assertEqual(512, e.actual_mib())
        # an over-eager balloon: 200 MiB, then the guest takes 300 MiB at
        # once; the agent (dry run) does not help, deflate-on-OOM must
        e.dom.setMemoryFlags(200 * 1024, lab.libvirt.VIR_DOMAIN_AFFECT_LIVE)
        lab.wait_for(lambda: e.actual_mib() == 200, 30,
                     what='the balloon at 200 MiB')
        e.command('alloc 300 300')
        lab.wait_for(lambda: 'ALLOC_' in e.console(), 60,
                     what='guest e to finish allocating')
        self.assertIn('ALLOC_DONE 300MB', e.console())
        self.assertTrue(e.alive())
        self.assertGreater(e.actual_mib(), 200)
        self.assertEqual([], e.oom_lines())


class TestAgentProcess(base.AgentLabTestCase):
    """``nova-drs-agent`` as run by an operator, stopped by SIGTERM."""

    GUESTS = {'p': {'memory_mib': 256}}

    def test_runs_publishes_and_stops_on_sigterm(self):
        p = self.guests['p']
        path = self.agent_conf("""\
            [drs_balloon]
            dry_run = true
            """)
        conf = config.load([path])
        received = []

        class Endpoint:
            def sample(self, ctxt, publisher_id, event_type, payload,
                       metadata):
                received.append((publisher_id, event_type, payload))

        transport = oslo_messaging.get_notification_transport(
            conf, url=lab.TRANSPORT_URL)
        self.addCleanup(transport.cleanup)
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=conf.drs_agent.topic)],
            [Endpoint()], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)

        log = os.path.join(self.tmp, 'agent.log')
        with open(log, 'w') as out:
            proc = subprocess.Popen(
                [sys.executable, '-m', 'nova_drs.cmd.agent',
                 '--config-file', path], stdout=out,
                stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def with_guest():
            return [r for r in received
                    if r[1] == payload_mod.METRICS_EVENT
                    and base.guest_entry(r[2], p)]
        lab.wait_for(lambda: len(with_guest()) >= 2 or proc.poll(), 60,
                     what='two notifications from nova-drs-agent')
        self.assertIsNone(proc.poll(), open(log).read())
        for publisher_id, event_type, payload in received:
            self.assertEqual('nova-drs-agent:%s' % base.HOST, publisher_id)
            payload_mod.validate(payload, event_type)
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        output = open(log).read()
        self.assertEqual(0, rc, output)
        self.assertLess(time.monotonic() - stopping, 15)
        self.assertIn('nova-drs-agent stopped', output)
        self.assertNotIn('eventlet', output.lower())
