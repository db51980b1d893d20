# SPDX-License-Identifier: Apache-2.0
"""CPU of the balancer's metrics intake per agent report, end to end:
``python -m nova_drs.balancer.intake.bench``.

Where :mod:`nova_drs.notifications.bench` times the listener's checks of
one payload in a loop, this times everything a replica spends on an agent
report it takes in, in one process, through the real broker:

1. ``--reports`` reports of ``--hosts`` simulated agents (the load test's
   :class:`~nova_drs.loadtest.agents.AgentFleet`: the agent's payload
   functions, numbered and signed with each host's own key by the agent's
   ``Publisher``) are published to a throwaway topic on RabbitMQ first;
2. then a listener (:class:`~nova_drs.balancer.intake.listener.
   MetricsListener`, the balancer's options: batch listener, threading
   executor, signatures required with host keys) reads them into a real
   :class:`~nova_drs.balancer.view.host_view.HostView`, and the process's
   CPU time (every thread: kombu, oslo.messaging's dispatch, the checks,
   the host view) is taken from the listener's start until the last
   report was accepted. The queue is deleted at the end.

It prints the CPU per report and the wall-clock rate, and exits 1 when the
CPU per report is over ``--target-ms`` (after the machine-speed factor of
:func:`nova_drs.agent.bench.speed_factor`, as the other benchmarks).
``--profile`` prints where the CPU went (yappi, every thread, CPU clock).

It needs RabbitMQ (``--transport-url``, ``$NOVA_DRS_TRANSPORT_URL``,
default ``rabbit://guest:guest@127.0.0.1:5672/``).
"""

import argparse
import os
import sys
import tempfile
import time
import uuid

CONF = """\
[DEFAULT]
transport_url = %(transport_url)s
[drs_agent]
topic = %(topic)s
partitions = 0
interval = %(interval)s
[drs_listener]
topic = %(topic)s
partitions = 0
batch_size = %(batch_size)d
batch_timeout = %(batch_timeout)s
[drs_signing]
secret = %(secret)s
require_host_keys = true
"""

STAGES = ('transport', 'checks', 'all')
HOST_VCPUS = 16
HOST_MEMORY_MB = 131072


def _placement(hosts, guests):
    """A region's placement: host -> [(server, vcpus, ram MiB)]."""
    return {'bench-%05d' % h: [
        (str(uuid.UUID(int=h * 1000 + g + 1, version=4)), 2, 4096)
        for g in range(guests)] for h in range(hosts)}


def _delete_queue(url, name):
    import kombu
    with kombu.Connection(url.replace('rabbit://', 'amqp://', 1)) as conn:
        kombu.Queue(name, channel=conn.channel()).delete()


def _profile_report(yappi, top):
    stats = yappi.get_func_stats()
    stats.sort('tsub', 'desc')
    total = sum(s.tsub for s in stats) or 1.0
    print('  where the CPU went (own time, every thread; top %d):' % top)
    for s in list(stats)[:top]:
        where = '%s:%d' % (os.path.basename(s.module), s.lineno)
        print('    %5.1f %%  %8.3f s  %9d calls  %s (%s)' % (
            100.0 * s.tsub / total, s.tsub, s.ncall, s.name, where))
    stats.sort('ttot', 'desc')
    print('  inclusive (top %d):' % top)
    for s in list(stats)[:top]:
        where = '%s:%d' % (os.path.basename(s.module), s.lineno)
        print('    %5.1f %%  %8.3f s  %s (%s)' % (
            100.0 * s.ttot / total, s.ttot, s.name, where))


class _Discard:
    def on_metrics(self, reports):
        pass

    def on_hotspots(self, reports):
        pass


class _Count:
    """Counts what oslo.messaging delivers, as accepted, and no more."""

    def __init__(self, endpoint):
        self.filter_rule = endpoint.filter_rule
        self._endpoint = endpoint

    def sample(self, messages):
        import oslo_messaging
        with self._endpoint._lock:
            self._endpoint.batches += 1
            self._endpoint.accepted['delivered'] += len(messages)
        return oslo_messaging.NotificationResult.HANDLED

    def __getattr__(self, name):
        return getattr(self._endpoint, name)


def main(argv=None):
    from nova_drs import agent
    # before oslo.messaging is imported: native threads, as the balancer
    agent.use_native_threads()
    from nova_drs.agent import bench as agent_bench
    from nova_drs.balancer.intake import listener
    from nova_drs.balancer.view import host_view
    from nova_drs import config
    from nova_drs.loadtest import agents

    parser = argparse.ArgumentParser(
        prog='python -m nova_drs.balancer.intake.bench',
        description=__doc__.split('\n\n')[0].replace('``', ''))
    parser.add_argument('--hosts', type=int, default=2000)
    parser.add_argument('--reports', type=int, default=6000,
                        help='reports published, then taken in')
    parser.add_argument('--instances-per-host', type=int, default=6,
                        help='guests per host (the load test\'s default)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='[drs_listener] batch_size (its default)')
    parser.add_argument('--batch-timeout', type=float, default=None,
                        help='[drs_listener] batch_timeout (its default)')
    parser.add_argument('--transport-url', default=os.environ.get(
        'NOVA_DRS_TRANSPORT_URL', 'rabbit://guest:guest@127.0.0.1:5672/'))
    parser.add_argument('--target-ms', type=float, default=1.0,
                        help='most CPU per report, normalised (1.0 ms: '
                        '10,000 hosts every 10 s are 1,000 reports/s, '
                        'a core for two replicas)')
    parser.add_argument('--profile', action='store_true',
                        help='print where the CPU went (yappi)')
    parser.add_argument('--top', type=int, default=30)
    parser.add_argument('--stage', choices=STAGES, default='all',
                        help='how far each report goes: "transport" only '
                        'counts what oslo.messaging delivers, "checks" '
                        'also checks it (listener) and discards it, "all" '
                        'also stores it in the host view')
    parser.add_argument('--timeout', type=float, default=300.0)
    parser.add_argument('--senders', type=int, default=8,
                        help='threads publishing the reports')
    args = parser.parse_args(argv)

    if not agent_bench.broker_answers(args.transport_url):
        print('FAILED: no message broker at %s' % args.transport_url)
        return 1
    from nova_drs.conf import listener as listener_conf
    defaults = {o.name: o.default for o in listener_conf.LISTENER_OPTS}
    topic = 'drs_intakebench_%s' % uuid.uuid4().hex[:8]
    with tempfile.NamedTemporaryFile('w', suffix='.conf',
                                     delete=False) as f:
        f.write(CONF % dict(
            transport_url=args.transport_url, topic=topic, interval=10,
            secret=uuid.uuid4().hex + uuid.uuid4().hex,
            batch_size=args.batch_size or defaults['batch_size'],
            batch_timeout=args.batch_timeout or defaults['batch_timeout']))
        conf_path = f.name
    try:
        conf = config.load([conf_path], default_files=False)
    finally:
        os.unlink(conf_path)
    queue = '%s.sample' % topic
    references = [agent_bench.reference_ms()]
    try:
        return _run(args, conf, queue, listener, host_view, agents,
                    agent_bench, references)
    finally:
        _delete_queue(args.transport_url, queue)


def _run(args, conf, queue, listener, host_view, agents, agent_bench,
         references):
    fleet = agents.AgentFleet(
        conf, _placement(args.hosts, args.instances_per_host), HOST_VCPUS,
        HOST_MEMORY_MB, senders=args.senders)
    names = list(fleet.hosts)
    start = time.monotonic()
    now = time.time()
    for i in range(args.reports):
        # each host's reports a (simulated) interval apart, in order
        fleet._report(fleet.hosts[names[i % len(names)]],
                      now - 0.001 * (args.reports - i))
    fleet.stop()
    print('nova-drs intake, end to end: %d reports of %d hosts (%d guests '
          'each, signed with host keys) published to %s in %.1f s'
          % (args.reports, len(names), args.instances_per_host, queue,
             time.monotonic() - start))
    references.append(agent_bench.reference_ms())

    view = host_view.HostView(conf)
    intake = listener.MetricsListener(
        conf, view if args.stage == 'all' else _Discard())
    if args.stage == 'transport':
        intake.endpoint = _Count(intake.endpoint)
    yappi = None
    if args.profile:
        import yappi
        yappi.set_clock_type('cpu')
        yappi.start(builtins=True)
    cpu0, wall0 = time.process_time(), time.monotonic()
    intake.start()
    endpoint = intake.endpoint
    if args.stage == 'transport':
        endpoint = endpoint._endpoint
    taken = 0
    while taken < args.reports:
        if time.monotonic() - wall0 > args.timeout:
            break
        time.sleep(0.05)
        stats = endpoint.stats()
        taken = sum(stats['accepted'].values()) + sum(
            stats['dropped'].values())
    cpu1, wall1 = time.process_time(), time.monotonic()
    if yappi is not None:
        yappi.stop()
    intake.stop()
    stats = endpoint.stats()
    references.append(agent_bench.reference_ms())
    accepted = sum(stats['accepted'].values())
    dropped = {k: v for k, v in stats['dropped'].items() if v}
    cpu_ms = (cpu1 - cpu0) * 1000.0 / max(taken, 1)
    factor = agent_bench.speed_factor(references)
    print('  taken in: %d accepted, dropped %s, in %d batches (batch_size '
          '%d, batch_timeout %g s)' % (
              accepted, dropped or 'none', stats['batches'],
              conf.drs_listener.batch_size, conf.drs_listener.batch_timeout))
    print('  CPU %.2f s for %d reports: %.3f ms per report (%.0f reports/s '
          'per core); wall %.1f s, %.0f reports/s; host view: %d hosts'
          % (cpu1 - cpu0, taken, cpu_ms, 1000.0 / max(cpu_ms, 1e-9),
             wall1 - wall0, taken / max(wall1 - wall0, 1e-9),
             len(view.hosts())))
    normalised = cpu_ms / factor
    print('  machine-speed factor %.2f: %.3f ms per report normalised; '
          'load average %s' % (factor, normalised, ' '.join(
              '%.2f' % x for x in os.getloadavg())))
    if yappi is not None:
        _profile_report(yappi, args.top)
    if taken < args.reports or dropped:
        print('FAILED: %d of %d reports taken in, dropped %s'
              % (taken, args.reports, dropped))
        return 1
    if normalised > args.target_ms:
        print('FAILED: %.3f ms per report (normalised) > %.3f ms'
              % (normalised, args.target_ms))
        return 1
    print('OK: target met (%.3f ms per report normalised <= %.3f ms)'
          % (normalised, args.target_ms))
    return 0


if __name__ == '__main__':
    sys.exit(main())
