# SPDX-License-Identifier: Apache-2.0
"""The load test's processes: the region double, the agents, the replicas.

Each runs in its own process so that none takes CPU from the others
through Python's global interpreter lock, as on a real control plane:

* :func:`region_main`: the generated region behind Nova's and
  Placement's HTTP API shapes (:mod:`nova_drs.loadtest.nova_api`); it
  sends the orchestrator the live-migration requests it received, the
  migrations that completed and its API call counts per client;
* :func:`fleet_main`: the simulated agents (:mod:`nova_drs.loadtest.
  agents`) of every host of the same region (generated again from the
  same seed), publishing through RabbitMQ; it takes commands (make a
  host hot, move a guest, cool guests) and sends back the onsets and its
  own figures;
* :class:`Replica`: ``nova-drs-balancer``, the real service, from its
  configuration file.
"""

import os
import queue
import resource
import signal
import subprocess
import sys
import time

#: seconds between the region's reports to the orchestrator
REGION_REPORT_S = 0.2


def _cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def region_main(params, conn):
    """Serve a region until told to stop; ``conn`` a Pipe end."""
    # imported here: the child process builds what it needs itself
    from nova_drs.loadtest import nova_api
    from nova_drs.loadtest import region as region_mod

    region = region_mod.Region.generate(**params)
    server, url = nova_api.serve(region)
    conn.send(('ready', url))
    requests_sent = 0
    completed = set()
    try:
        while True:
            if conn.poll(REGION_REPORT_S):
                if conn.recv() == 'stop':
                    break
            with region.lock:
                region.advance()
                new = [r.as_dict() for r in region.requests[requests_sent:]]
                requests_sent = len(region.requests)
                moves = []
                for m in region.migrations:
                    if m.status == 'completed' and m.id not in completed:
                        completed.add(m.id)
                        moves.append((m.server_id, m.source, m.dest,
                                      m.updated))
            conn.send(('events', new, moves, server.app.calls_snapshot(),
                       _cpu_s()))
    finally:
        server.shutdown()


def fleet_main(conf_path, params, commands, results, senders=0):
    """Run the simulated agents of the region until told to stop.

    :param commands: a Queue of ('hot', [candidate hosts], how many),
        ('move', server,
        source, dest), ('cool_all',), ('stop',)
    :param results: a Queue the fleet puts ('onsets', {host: time}) and
        ('stats', {...}) on
    """
    from nova_drs import agent
    # before oslo.messaging is imported: native threads, no eventlet
    agent.use_native_threads()
    from nova_drs import config
    from nova_drs.loadtest import agents
    from nova_drs.loadtest import region as region_mod

    conf = config.load([conf_path])
    region = region_mod.Region.generate(**params)
    placement = {
        host: [(sid, region.servers[sid].flavor.vcpus,
                region.servers[sid].flavor.ram) for sid in servers]
        for host, servers in region.placement().items()}
    fleet = agents.AgentFleet(conf, placement, params['host_vcpus'],
                              params['host_memory_mb'],
                              seed=params['seed'], senders=senders)
    del region
    fleet.start()
    results.put(('ready', len(fleet.hosts)))
    next_stats = time.monotonic()
    try:
        while True:
            try:
                command = commands.get(
                    timeout=max(0.0, min(0.05, fleet.next_due()
                                         - time.time())))
            except queue.Empty:
                command = None
            if command is not None:
                kind = command[0]
                if kind == 'stop':
                    break
                if kind == 'hot':
                    # the first `wanted` candidates that can be made hot
                    onsets, wanted = {}, command[2]
                    for host in command[1]:
                        if len(onsets) >= wanted:
                            break
                        onset = fleet.make_hot(host)
                        if onset is not None:
                            onsets[host] = onset
                    results.put(('onsets', onsets))
                elif kind == 'move':
                    fleet.move(*command[1:])
                elif kind == 'cool_all':
                    fleet.cool_all()
            fleet.due(time.time())
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + 2.0
                results.put(('stats', {
                    'published': fleet.published, 'lag_s': fleet.lag_s,
                    'max_lag_s': fleet.max_lag_s, 'cpu_s': _cpu_s(),
                    'at': time.time()}))
    finally:
        fleet.stop()


class Replica:
    """``nova-drs-balancer`` from a configuration file, in its own group."""

    def __init__(self, replica_id, conf_path, log_dir):
        self.replica_id = replica_id
        self.conf_path = conf_path
        self.out_path = os.path.join(log_dir, '%s.stdout' % replica_id)
        self.proc = None
        self._out = None

    def start(self):
        self._out = open(self.out_path, 'w')
        # our own interpreter and module, the path of our own file
        self.proc = subprocess.Popen(  # nosec B603
            [sys.executable, '-c',
             'from nova_drs.cmd.balancer import main; main()',
             '--config-file', self.conf_path],
            stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: a replica that dies without a word."""
        self._signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout=30.0):
        if not self.running():
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(30)
        if self._out is not None:
            self._out.close()

    def _signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
