# SPDX-License-Identifier: Apache-2.0
"""Helpers of the balancer service scenarios: agents and replicas.

:class:`FakeAgents` plays the nova-drs agents of the Nova lab's fake
compute hosts: every ``interval`` seconds it asks Nova which servers run
on each host (so a migrated server is reported by its new host, as a real
agent would) and publishes each host's ``drs.host.metrics`` with the
agent's own publisher (real oslo.messaging, real RabbitMQ), from CPU
loads the test sets per server, with the hot flags and the thresholds an
agent sends (flagged as soon as the load is over the threshold); when a
host's CPU load first goes over the threshold it also publishes the
``drs.host.hotspot`` event an agent sends, and records when (the
hotspot's *onset*). A test that changes the loads can have the next round
sent at once (:meth:`FakeAgents.round_now`) rather than within an
interval.

:class:`ServiceProcess` runs a nova-drs command as a separate process
from a configuration file, as an operator would, and can stop it
(SIGTERM) or kill it (SIGKILL); :func:`stop_all` stops several together
(a replica takes seconds to shut down); :class:`BalancerProcess` is
``nova-drs-balancer``.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from nova_drs.agent import publisher
from nova_drs import config
from tests.functional.agent import lab as agent_lab
from tests.functional.nova import fixtures as nova_fixtures
from tests.unit.balancer import test_host_view as docs

#: CPUs of a fake host as Placement reports them (the fake driver's)
FAKE_HOST_VCPUS = 1000.0


class FakeAgents:
    """Publishes the metrics of the lab's hosts until stopped."""

    def __init__(self, conn, conf_path, hosts, interval=5.0,
                 threshold=0.85):
        self.conn = conn
        self.hosts = list(hosts)
        self.interval = interval
        self.threshold = threshold
        #: server uuid -> CPU utilisation (0-1) of its vCPUs
        self.cpu = {}
        #: host -> wall time of the hotspot event (onset)
        self.onsets = {}
        #: server uuid -> host it was last reported on
        self.where = {}
        self.rounds = 0
        self.errors = []
        self._hot = set()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._publishers = {}
        for host in self.hosts:
            conf = config.load([conf_path])
            conf.set_override('host', host, 'drs_agent')
            pub = publisher.Publisher(conf)
            pub.start()
            self._publishers[host] = pub
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='fake-agents')

    def start(self):
        self._thread.start()
        return self

    def round_now(self):
        """Start the next round now (the loads the test set are sent)."""
        self._wake.set()

    def stop(self):
        self._stop.set()
        self._wake.set()
        self._thread.join(30)
        for pub in self._publishers.values():
            pub.stop(5.0)

    def _servers(self):
        out = {host: [] for host in self.hosts}
        for server in self.conn.compute.servers(details=True,
                                                all_projects=True):
            if server.compute_host in out and server.status == 'ACTIVE':
                out[server.compute_host].append(server)
        return out

    def _round(self):
        now = time.time()
        for host, servers in self._servers().items():
            guests, cpu_cores = [], 0.0
            for server in servers:
                util = self.cpu.get(server.id, 0.02)
                vcpus = server.flavor.vcpus
                cpu_cores += util * vcpus
                self.where[server.id] = host
                guests.append(docs.guest_doc(server.id, cpu=util, mem=200.0,
                                             vcpus=vcpus, max_mb=1024.0))
            load = cpu_cores / FAKE_HOST_VCPUS
            hot = load > self.threshold
            # as an agent sends it: its flags (at once: 1 of 1) and the
            # thresholds it judged them by
            doc = docs.metrics_doc(host, at=now, load=(load, 0.05, 0, 0),
                                   guests=guests,
                                   hotspot=('cpu',) if hot else (),
                                   thresholds=(self.threshold, 0.9, 0.9,
                                               0.9))
            pub = self._publishers[host]
            pub.publish('drs.host.metrics', doc)
            if hot and host not in self._hot:
                self._hot.add(host)
                self.onsets[host] = time.time()
                pub.publish('drs.host.hotspot', docs.hotspot_doc(
                    host, at=now, hot=('cpu',), raised=('cpu',)))
            elif not hot and host in self._hot:
                self._hot.discard(host)
                pub.publish('drs.host.hotspot', docs.hotspot_doc(
                    host, at=now, hot=(), raised=(), cleared=('cpu',)))
        self.rounds += 1

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            self._wake.clear()
            try:
                self._round()
            except Exception as e:   # a test helper: report, keep going
                self.errors.append(repr(e))
            self._wake.wait(max(0.0, self.interval
                                - (time.monotonic() - started)))


def write_conf(path, **values):
    """A balancer configuration for the lab (see the scenario tests)."""
    text = nova_fixtures.CLIENT_CONF + textwrap.dedent("""\
        [DEFAULT]
        transport_url = %(transport_url)s
        debug = true
        log_file = %(log_file)s
        [oslo_messaging_rabbit]
        rabbit_retry_interval = 1
        rabbit_retry_backoff = 1
        rabbit_interval_max = 2
        [drs_agent]
        topic = %(topic)s
        interval = %(interval)s
        [drs_listener]
        topic = %(topic)s
        stale_after = %(stale_after)s
        nova_transport_url = %(nova_transport_url)s
        [drs_balancer]
        mode = %(mode)s
        planning_interval = %(planning_interval)s
        inventory_min_interval = 0.5
        host_state_interval = 2
        [drs_actuator]
        poll_interval = 0.5
        takeover_after = %(takeover_after)s
        scan_interval = 0.5
        max_concurrent_migrations_per_host = 1
        [drs_coordination]
        backend_url = %(backend_url)s
        group = %(group)s
        replica_id = %(replica_id)s
        heartbeat_interval = 0.5
        member_timeout = 3
        [drs_database]
        connection = %(database)s
        """) % values + textwrap.dedent(values.get('extra', ''))
    with open(path, 'w') as f:
        f.write(text)
    return path


class ServiceProcess:
    """A nova-drs command in its own process group, as an operator runs it.

    Its console output goes to ``LOG_PATH.stdout``; its log (``[DEFAULT]
    log_file``) is expected at ``log_path``.
    """

    def __init__(self, argv, log_path):
        self.argv = list(argv)
        self.log_path = log_path
        self.proc = None
        self.out = None

    def start(self):
        self.out = open(self.log_path + '.stdout', 'w')
        self.proc = subprocess.Popen(
            self.argv, stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGKILL the whole process group (cotyledon's parent and child)."""
        if self.running():
            self._signal_group(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout=30):
        if self.running():
            self._signal_group(signal.SIGTERM)
        self._finish(time.monotonic() + timeout)

    def _finish(self, deadline):
        """Wait for the end of a stop until ``deadline``, then kill."""
        if self.running():
            try:
                self.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
        if self.out is not None:
            self.out.close()

    def output(self):
        """What it printed on its console so far."""
        try:
            with open(self.log_path + '.stdout') as f:
                return f.read()
        except OSError:
            return ''

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''


def stop_all(procs, timeout=30, meanwhile=None):
    """Stop (SIGTERM) several processes at once: they shut down together.

    Each is killed when it has not ended ``timeout`` seconds after;
    ``meanwhile()``, if given, is called while they shut down.
    """
    procs = list(procs)
    for proc in procs:
        if proc.running():
            proc._signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        for proc in procs:
            proc._finish(deadline)


class BalancerProcess(ServiceProcess):
    """``nova-drs-balancer --config-file PATH`` in its own process."""

    def __init__(self, conf_path, log_path):
        super().__init__(
            [sys.executable, '-c',
             'import sys; from nova_drs.cmd import balancer; '
             'sys.exit(balancer.main())',
             '--config-file', conf_path], log_path)
        self.conf_path = conf_path


def transport_url():
    return agent_lab.TRANSPORT_URL
