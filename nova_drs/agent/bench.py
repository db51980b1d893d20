# SPDX-License-Identifier: Apache-2.0
"""Cost of the agent's cycle with many guests: ``python -m
nova_drs.agent.bench``.

It runs the real agent cycle (inspector, /proc, metrics, balloon policy,
payload signature with a host key, oslo.messaging publishing) in a process
set up like
``nova-drs-agent`` (native threads, no eventlet) against libvirt's
``test:///`` driver with generated domains, and prints

* the CPU time per cycle of the whole process (every thread), and how it
  splits between the steps. The measurement runs ``--repeat`` times, each
  in a fresh process doing the same cycles: on a machine shared with
  other work a run that meets contention spends more CPU time on the
  same code (caches, a sibling hyperthread, frequency), so one run
  measures the machine as much as the agent. Every run is printed;
* the machine's speed during each run, and the CPU per cycle corrected
  for it. On a shared or virtual machine the CPU time of the same code
  varies between processes and moments by half or more (a busy sibling
  hyperthread, the host's frequency, other guests), more than the
  changes of the agent the target is there to catch. So after each cycle
  the run also times a fixed reference workload (:func:`reference_ms`:
  200 payload-like dicts through ``json.dumps`` with sorted keys,
  SHA-256 and ``json.loads``, the agent's kind of work); its CPU time is
  left out of the agent's. The run's *machine-speed factor* is the
  median reference time divided by :data:`REFERENCE_BASE_MS`, the
  reference's time on the CI machine when it is quiet, and never less
  than 1.0, so that a fast machine is never credited: it can only excuse
  a slow moment. Each run's CPU per cycle is divided by its own factor,
  and the figure compared with the CPU target is the median of these
  normalised figures (:func:`judged_run`); every run's raw CPU, factor
  and normalised figure is printed;
* the process's resident memory after the cycles (the largest of the
  runs is compared with the target).

The ``test:///`` driver reports only the domain state in
``getAllDomainStats``, so the benchmark adds the statistics QEMU would
report (cpu, vcpu, balloon, block, net: ~50 values per guest) to each
record; making them costs CPU too, which is shown apart and *included*
in the total. The host is made short of memory so that the balloon
policy resizes balloons every cycle (``setMemoryFlags`` on the test
driver).

Notifications go to RabbitMQ when one answers at ``--transport-url``
(to a topic nobody listens to); otherwise they are serialised but not
sent, and a note says so. Exit status 1 when a target is missed.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from nova_drs import agent
# the machine-speed factor, shared with the other benchmarks (re-exported:
# they call it through this module)
from nova_drs.machine_speed import REFERENCE_BASE_MS  # noqa: F401
from nova_drs.machine_speed import reference_ms
from nova_drs.machine_speed import speed_factor


GUEST_MIB = 2048


def node_xml(guests):
    """A ``test:///`` driver node with ``guests`` running domains."""
    domains = []
    for i in range(guests):
        domains.append(
            "<domain type='test'><name>instance-%08x</name>"
            "<uuid>00000000-0000-4000-8000-%012x</uuid>"
            "<memory unit='MiB'>%d</memory>"
            "<currentMemory unit='MiB'>%d</currentMemory>"
            "<vcpu>2</vcpu><os><type>hvm</type></os>"
            "<devices><memballoon model='virtio' autodeflate='on'%s>"
            "<stats period='10'/></memballoon></devices></domain>"
            % (i, i, GUEST_MIB, GUEST_MIB,
               " freePageReporting='on'" if i % 2 else ''))
    return '<node>%s</node>' % ''.join(domains)


def broker_answers(url):
    rest = url.split('://', 1)[1].split('/', 1)[0].rsplit('@', 1)[-1]
    host, _, port = rest.partition(':')
    try:
        socket.create_connection((host or '127.0.0.1', int(port or 5672)),
                                 timeout=2).close()
        return True
    except OSError:
        return False


def rss_mb():
    status = {}
    with open('/proc/self/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            status[key] = value.split()
    return int(status['VmRSS'][0]) / 1024.0, int(status['VmHWM'][0]) / 1024.0


class Timer:
    """CPU time (this thread) spent in wrapped callables, in seconds."""

    def __init__(self):
        self.spent = {}

    def wrap(self, name, func):
        def timed(*args, **kwargs):
            start = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.spent[name] = (self.spent.get(name, 0.0)
                                    + time.thread_time() - start)
        return timed


def _delete_queue(conf, transport_url, name):
    """Delete the queue the notifier declared: nobody will consume it."""
    import kombu
    import oslo_messaging

    url = oslo_messaging.TransportURL.parse(conf, transport_url)
    host = url.hosts[0]
    try:
        with kombu.Connection(hostname=host.hostname or '127.0.0.1',
                              port=host.port or 5672,
                              userid=host.username or 'guest',
                              password=host.password or 'guest',
                              virtual_host=url.virtual_host or '/',
                              connect_timeout=5) as connection:
            connection.channel().queue_delete(name)
    except Exception as e:
        print('  (could not delete queue %s: %s)' % (name, e))


def measure(args):
    """One run in this process: a dict of figures (see :func:`main`)."""
    agent.use_native_threads()
    # NOTE: imported here, after the threading backend is chosen (they
    # import oslo.messaging), as in nova_drs.cmd.agent
    from oslo_log import log as logging
    from oslo_serialization import jsonutils

    from nova_drs.agent import hoststats
    from nova_drs.agent import inspector
    from nova_drs.agent import manager
    from nova_drs.cmd import agent as agent_cmd
    from nova_drs import config

    workdir = tempfile.mkdtemp(prefix='nova-drs-bench-')
    node = os.path.join(workdir, 'node.xml')
    with open(node, 'w') as f:
        f.write(node_xml(args.guests))
    broker = broker_answers(args.transport_url)
    conf_path = os.path.join(workdir, 'agent.conf')
    # signed as in production, with a host key
    key_path = os.path.join(workdir, 'host.key')
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
        f.write('ab' * 32)
    with open(conf_path, 'w') as f:
        f.write('[DEFAULT]\ntransport_url = %s\n'
                '[libvirt]\nconnection_uri = test://%s\n'
                '[drs_agent]\nhost = bench\ntopic = drs_bench_%d\n'
                'notification_driver = %s\nsigning_key_file = %s\n'
                'state_path = %s\n'
                % (args.transport_url, node, os.getpid(),
                   'messagingv2' if broker else 'noop', key_path,
                   workdir))
        # the agent's log (INFO) goes to a file, as it would in production
        f.write('[DEFAULT]\nlog_file = %s\n'
                % os.path.join(workdir, 'agent.log'))
    # the same option groups as nova-drs-agent itself
    conf = config.load([conf_path], groups=agent_cmd.CONF_GROUPS)
    logging.setup(conf, 'nova-drs')

    timer = Timer()
    sizes = {}

    class Stats:
        """What QEMU would add to each getAllDomainStats record."""

        def __init__(self, conn):
            self._conn = conn
            self._start = time.monotonic()

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def getAllDomainStats(self, stats, flags):
            records = self._conn.getAllDomainStats(stats, flags)
            timer.wrap('synthetic stats', self._add)(records)
            return records

        def _add(self, records):
            # counters grow with time: 0.3 core of CPU, 0.1 MB/s of I/O
            t = time.monotonic() - self._start
            c = int(t * 10) + 1
            for i, (dom, st) in enumerate(records):
                current = sizes.get(dom.UUIDString(), GUEST_MIB * 1024)
                st.update({
                    'cpu.time': int(t * 3e8) + i, 'cpu.user': c * 10 ** 8,
                    'cpu.system': c * 10 ** 7,
                    'cpu.cache.monitor.count': 0,
                    'cpu.haltpoll.success.time': 0,
                    'cpu.haltpoll.fail.time': 0,
                    'balloon.current': current,
                    'balloon.maximum': GUEST_MIB * 1024,
                    'balloon.swap_in': 0, 'balloon.swap_out': 0,
                    'balloon.major_fault': 10, 'balloon.minor_fault': c * 100,
                    'balloon.unused': current // 2,
                    'balloon.available': current - 60000,
                    'balloon.usable': current // 2 + 10000,
                    'balloon.last-update': 1700000000 + c * 10,
                    'balloon.disk_caches': 10000,
                    'balloon.hugetlb_pgalloc': 0,
                    'balloon.hugetlb_pgfail': 0,
                    'balloon.rss': current - 100000,
                    'vcpu.current': 2, 'vcpu.maximum': 2,
                    'vcpu.0.state': 1, 'vcpu.0.time': c * 5 * 10 ** 8,
                    'vcpu.0.wait': 0, 'vcpu.0.delay': 0,
                    'vcpu.1.state': 1, 'vcpu.1.time': c * 4 * 10 ** 8,
                    'vcpu.1.wait': 0, 'vcpu.1.delay': 0,
                    'net.count': 1, 'net.0.name': 'tap%d' % i,
                    'net.0.rx.bytes': c * 10 ** 6, 'net.0.rx.pkts': c,
                    'net.0.rx.errs': 0, 'net.0.rx.drop': 0,
                    'net.0.tx.bytes': c * 10 ** 5, 'net.0.tx.pkts': c,
                    'net.0.tx.errs': 0, 'net.0.tx.drop': 0,
                    'block.count': 1, 'block.0.name': 'vda',
                    'block.0.path': '/var/lib/nova/instances/%d/disk' % i,
                    'block.0.backingIndex': 1,
                    'block.0.rd.reqs': c * 10, 'block.0.rd.bytes': c * 40960,
                    'block.0.rd.times': c * 1000, 'block.0.wr.reqs': c * 5,
                    'block.0.wr.bytes': c * 20480,
                    'block.0.wr.times': c * 1000, 'block.0.fl.reqs': c,
                    'block.0.fl.times': c * 100,
                    'block.0.allocation': 10 ** 9,
                    'block.0.capacity': 10 ** 10,
                    'block.0.physical': 10 ** 9})

    class BenchInspector(inspector.LibvirtInspector):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # the statistics QEMU would add, on the sampling (read-only)
            # connection
            open_reader = self._reader._open
            self._reader._open = lambda: Stats(open_reader())

        resized = 0

        def set_memory(self, uuid, kib):
            super().set_memory(uuid, kib)
            sizes[uuid] = int(kib)
            BenchInspector.resized += 1

    class ShortHost:
        """The real /proc, with memory just short of the policy's target."""

        def __init__(self):
            self.reader = hoststats.HostStatsReader()

        def read(self):
            sample = self.reader.read()
            total = args.guests * GUEST_MIB * 1024 * 1.05
            sample.memory = dict(sample.memory, MemTotal=int(total),
                                 MemAvailable=int(total * 0.05),
                                 MemFree=int(total * 0.05))
            return sample

    insp = BenchInspector.from_conf(conf)
    agent_manager = manager.AgentManager(conf, inspector=insp,
                                         host_reader=ShortHost())
    insp.sample = timer.wrap('libvirt sample', insp.sample)
    reader = agent_manager.host_reader
    reader.read = timer.wrap('/proc', reader.read)
    mc = agent_manager.metrics
    mc.update = timer.wrap('metrics', mc.update)
    act = agent_manager.actuator
    act.cycle = timer.wrap('balloon', act.cycle)
    pub = agent_manager.publisher
    pub.publish = timer.wrap('number + sign + queue', pub.publish)
    if not broker:
        real_publish = pub.publish

        def publish_and_serialise(event_type, doc):
            timer.wrap('serialise (no broker)', jsonutils.dumps)(doc)
            return real_publish(event_type, doc)
        pub.publish = publish_and_serialise

    agent_manager.start()
    # the sender thread's own CPU time (Timer measures per thread)
    notifier = pub._notifier
    notifier.sample = timer.wrap('send (sender thread)', notifier.sample)
    for _ in range(3):
        agent_manager.run_cycle()
    while pub.pending:
        time.sleep(0.01)
    timer.spent.clear()
    BenchInspector.resized = 0
    references = []
    cpu0, wall0 = time.process_time(), time.monotonic()
    for _ in range(args.cycles):
        agent_manager.run_cycle()
        # as between real cycles: the sender thread sends meanwhile
        while pub.pending:
            time.sleep(0.001)
        # the machine's speed at this moment (left out of the agent's CPU)
        references.append(reference_ms())
    cpu = ((time.process_time() - cpu0 - sum(references) / 1000.0)
           / args.cycles * 1000.0)
    factor = speed_factor(references)
    wall = (time.monotonic() - wall0) / args.cycles * 1000.0
    rss, hwm = rss_mb()
    payload = agent_manager.last_payload
    size = len(jsonutils.dumps(payload))
    agent_manager.stop()
    if broker:
        # after the measurements: kombu's import would count in the RSS
        _delete_queue(conf, args.transport_url,
                      '%s.sample' % conf.drs_agent.topic)

    # the synthetic statistics are made inside the libvirt sample
    spent = {name: value / args.cycles * 1000.0
             for name, value in timer.spent.items()}
    synthetic = spent.pop('synthetic stats', 0.0)
    spent['libvirt sample'] = spent.get('libvirt sample', 0.0) - synthetic
    spent['synthetic stats (bench)'] = synthetic
    # building the payload dicts, GC, the libvirt and AMQP threads
    spent['other (payload, GC, threads)'] = cpu - sum(spent.values())
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    os.rmdir(workdir)
    return {'cpu_ms': cpu, 'factor': factor,
            'reference_ms': statistics.median(references),
            'normalised_cpu_ms': cpu / factor, 'wall_ms': wall,
            'rss_mb': rss, 'peak_rss_mb': hwm,
            'guests': len(payload['guests']), 'payload_kib': size / 1024.0,
            'resizes': BenchInspector.resized / args.cycles, 'steps': spent,
            'published': 'oslo.messaging messagingv2 to %s'
            % args.transport_url if broker else 'NOT SENT: no broker at %s '
            '(payload serialised only)' % args.transport_url}


def _run_child(argv):
    """One measurement in a fresh interpreter; its figures."""
    # a fixed command line: this interpreter and this module
    proc = subprocess.run(  # nosec B603
        [sys.executable, '-m', 'nova_drs.agent.bench', '--repeat', '1',
         '--json'] + argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('benchmark run failed (exit %d): %s'
                           % (proc.returncode, proc.stderr.strip()[-2000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def judged_run(runs):
    """The run whose normalised CPU per cycle is the runs' median.

    Not the cheapest raw run: each run's figure is corrected by the
    machine speed measured in that run, and on a noisy machine the
    cheapest raw run is not the least disturbed one (a CI run measured
    35.4 ms raw at factor 1.34, 26.4 ms normalised, beside 41.8 ms at 2.09
    and 36.1 ms at 1.82, 20.0 and 19.8 ms: the machine was slow in all
    three, as the factors say, and the cheapest raw run had the factor
    that corrected least). The median is what the runs agree on; one run
    whose reference or agent met a slow moment the other did not moves
    it least. With an even number of runs, the dearer of the middle two.
    """
    ordered = sorted(runs, key=lambda r: r['normalised_cpu_ms'])
    return ordered[len(ordered) // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m nova_drs.agent.bench', description=__doc__.split(
            '\n\n')[0].replace('``', ''))
    parser.add_argument('--guests', type=int, default=200)
    parser.add_argument('--cycles', type=int, default=30)
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs, each in a fresh process; the cheapest '
                             'is compared with the CPU target (default 3)')
    parser.add_argument('--cpu-target-ms', type=float, default=25.0,
                        help='CPU per cycle not to exceed, normalised to '
                             'the machine\'s speed (default 25)')
    parser.add_argument('--rss-target-mb', type=float, default=80.0,
                        help='resident memory not to exceed (default 80)')
    parser.add_argument('--transport-url',
                        default=os.environ.get(
                            'NOVA_DRS_TRANSPORT_URL',
                            'rabbit://guest:guest@127.0.0.1:5672/'))
    parser.add_argument('--json', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat <= 1:
        figures = measure(args)
        if args.json:
            print(json.dumps(figures))
            return 0
        runs = [figures]
    else:
        child = ['--guests', str(args.guests), '--cycles', str(args.cycles),
                 '--transport-url', args.transport_url]
        runs = [_run_child(child) for _ in range(args.repeat)]
    best = judged_run(runs)
    peak = max(r['peak_rss_mb'] for r in runs)
    print('nova-drs agent benchmark: %d guests (libvirt test:/// driver), '
          '%d cycles, %d run(s)' % (args.guests, args.cycles, len(runs)))
    print('  publishing: %s' % best['published'])
    print('  payload: %d guests, %.0f KiB of JSON; balloon resizes: %.1f '
          'per cycle' % (best['guests'], best['payload_kib'],
                         best['resizes']))
    print('  machine speed: reference %.2f ms per cycle (median) against '
          '%.2f ms when quiet' % (best['reference_ms'], REFERENCE_BASE_MS))
    for i, r in enumerate(runs, 1):
        print('  run %d: CPU per cycle %.1f ms raw, machine-speed factor '
              '%.2f, %.1f ms normalised%s'
              % (i, r['cpu_ms'], r['factor'], r['normalised_cpu_ms'],
                 ' (judged)' if r is best else ''))
    print('  CPU per cycle, whole process: %.1f ms normalised (%.1f ms raw '
          '/ %.2f), the median run (target < %.0f ms); wall %.1f ms'
          % (best['normalised_cpu_ms'], best['cpu_ms'], best['factor'],
             args.cpu_target_ms, best['wall_ms']))
    print('  per step, in that run:')
    for name, value in sorted(best['steps'].items(), key=lambda kv: -kv[1]):
        print('    %-28s %6.2f ms' % (name, value))
    print('  resident memory: %.1f MB peak, the largest run (target < %.0f '
          'MB); runs: %s MB' % (peak, args.rss_target_mb, ' '.join(
              '%.1f' % r['peak_rss_mb'] for r in runs)))
    failed = []
    if best['normalised_cpu_ms'] > args.cpu_target_ms:
        failed.append('CPU per cycle %.1f ms (normalised) > %.0f ms'
                      % (best['normalised_cpu_ms'], args.cpu_target_ms))
    if peak > args.rss_target_mb:
        failed.append('peak RSS %.1f MB > %.0f MB'
                      % (peak, args.rss_target_mb))
    if failed:
        print('FAILED: ' + '; '.join(failed))
        return 1
    print('OK: every target met')
    return 0


if __name__ == '__main__':
    sys.exit(main())
