# SPDX-License-Identifier: Apache-2.0
"""Thousands of simulated nova-drs agents in one process.

Each simulated host publishes what a real agent publishes: the payload is
built by the agent's own functions (:func:`nova_drs.agent.manager.
host_payload` and :func:`~nova_drs.agent.manager.guest_payload`), numbered
and signed by the agent's :class:`~nova_drs.agent.publisher.Publisher`
with the host's own key, and sent through real oslo.messaging to the
topic of the host's intake partition. Only the measuring is simulated:
the guests' CPU loads come from a seeded random walk, and the hosts'
loads are the sum of their guests' demand.

The hosts of a region report at evenly spread moments of each
``interval``, as agents started at different times do. A host made hot
(:meth:`AgentFleet.make_hot`) reports at once, with the hot flag and the
``drs.host.hotspot`` event its agent would send: that moment is the
hotspot's *onset*. Its detector is simplified to "over the threshold
now" (a real agent's k-of-n persistence only delays the onset, and is
tested with the agent). Guests move between hosts when the region says a
live migration completed (:meth:`AgentFleet.move`): their load goes with
them, as it does in a cloud.
"""

import dataclasses
import queue
import random
import threading
import time

from oslo_log import log as logging
import oslo_messaging

from nova_drs.agent import balloon as balloon_mod
from nova_drs.agent import inspector as inspector_mod
from nova_drs.agent import manager
from nova_drs.agent import metrics as metrics_mod
from nova_drs.agent import publisher as publisher_mod
from nova_drs.model import resources
from nova_drs.notifications import payload as payload_mod
from nova_drs.notifications import signing

LOG = logging.getLogger(__name__)

#: a guest's balloon as a well-configured guest has it
_CONFIG = inspector_mod.GuestConfig(has_balloon=True, autodeflate=True,
                                    free_page_reporting=True, stats_period=5)
_NO_BALLOON = balloon_mod.GuestBalloon()


class _Sample:
    """The part of an inspector sample a payload shows."""

    config = _CONFIG
    migrating = False


_SAMPLE = _Sample()


@dataclasses.dataclass
class Guest:
    uuid: str
    vcpus: int
    ram_mb: int
    #: the CPU load the guest would have if nothing changed (0-1 of its
    #: vCPUs): the random walk moves around it
    base_util: float
    util: float
    #: set by make_hot: the guest's demand while its host is made hot
    forced_util: float = None


@dataclasses.dataclass
class Host:
    name: str
    publisher: object
    guests: dict
    #: position of its report within each interval, 0-1
    phase: float
    next_at: float = 0.0
    hot: bool = False
    cycles: int = 0


class AgentFleet:
    """The simulated agents of a region.

    :param conf: a nova-drs configuration: ``[drs_agent] topic``,
        ``partitions`` and ``interval``, ``[drs_signing] secret``, the
        transport, ``[drs]`` thresholds
    :param placement: host name -> [(server uuid, vcpus, ram MiB)]
    :param host_vcpus: physical CPUs of each host
    :param host_memory_mb: memory of each host
    :param notifier_factory: ``f(topic, publisher_id)``, the notifier of a
        host (default: oslo.messaging's, on the configuration's transport)
    :param senders: threads that send the reports (0: each is sent in
        the caller's thread). oslo.messaging waits for the broker's
        confirmation of every notification it sends, so one thread sends
        one report per broker round trip whatever the CPU: some 150-300 a
        second on a busy machine, far from the 1,000 a second of 10,000
        hosts every 10 s. A host is always sent by the same thread, so
        its reports stay in order, as its agent's are.
    """

    #: reports waiting for each sender at most (then the fleet waits, and
    #: the reports are late: :attr:`lag_s`)
    SENDER_BACKLOG = 256

    def __init__(self, conf, placement, host_vcpus, host_memory_mb,
                 seed=1, notifier_factory=None, clock=time.time,
                 senders=0):
        self.conf = conf
        self.interval = conf.drs_agent.interval
        self.host_vcpus = host_vcpus
        self.host_memory_mb = host_memory_mb
        self.clock = clock
        self.thresholds = {
            'cpu': conf.drs.cpu_threshold,
            'memory': conf.drs.memory_threshold,
            'disk': conf.drs.disk_threshold,
            'network': conf.drs.network_threshold}
        self._rng = random.Random(seed)  # nosec B311
        self._transport = None
        self._notifier_factory = notifier_factory or self._oslo_notifier
        self._notifiers = {}
        self.hosts = {}
        names = sorted(placement)
        for i, name in enumerate(names):
            guests = {}
            for uuid, vcpus, ram_mb in placement[name]:
                base = self._rng.uniform(0.05, 0.35)
                guests[uuid] = Guest(uuid, vcpus, ram_mb, base, base)
            self.hosts[name] = Host(name=name, publisher=self._publisher(
                name), guests=guests, phase=i / max(len(names), 1))
        #: host -> wall time of its hotspot event
        self.onsets = {}
        #: reports sent (or queued to send, without sender threads)
        self.published = 0
        self.send_errors = 0
        self._sent_lock = threading.Lock()
        self._senders = []
        self._index = {name: i for i, name in enumerate(names)}
        for i in range(senders):
            work = queue.Queue(self.SENDER_BACKLOG)
            thread = threading.Thread(target=self._send, args=(work,),
                                      name='loadtest-sender-%d' % i,
                                      daemon=True)
            thread.start()
            self._senders.append((work, thread))
        #: seconds the reports were late, in all (the generator could not
        #: keep up when it grows)
        self.lag_s = 0.0
        self.max_lag_s = 0.0

    def _oslo_notifier(self, topic, publisher_id):
        # one Notifier per partition topic, prepared per host: a host
        # publishes as nova-drs-agent:<host> on its partition's topic
        if self._transport is None:
            self._transport = oslo_messaging.get_notification_transport(
                self.conf)
        base = self._notifiers.get(topic)
        if base is None:
            base = self._notifiers[topic] = oslo_messaging.Notifier(
                self._transport,
                driver=self.conf.drs_agent.notification_driver,
                publisher_id=publisher_id, topics=[topic])
        return base.prepare(publisher_id=publisher_id)

    def _publisher(self, host):
        probe = publisher_mod.Publisher(self.conf, notifier=object(),
                                        signer=None, host=host)
        notifier = self._notifier_factory(probe.topic, probe.publisher_id)
        return publisher_mod.Publisher(
            self.conf, notifier=notifier, host=host,
            # the host's own key, as nova-drs-manage signing host-key gives
            # it to the host's agent (the balancer may then refuse the
            # shared secret: [drs_signing] require_host_keys)
            signer=signing.Signer(
                signing.host_key(self.conf.drs_signing.secret, host),
                signing.HOST, probe.publisher_id))

    # -- what the orchestrator changes --

    def make_hot(self, host, load=0.97):
        """Raise ``host``'s guests so the host needs ``load`` of its CPUs.

        The host reports at once; returns the onset (wall time), or None
        when its guests have too few vCPUs to load it that much (or it
        is hot already).
        """
        h = self.hosts[host]
        vcpus = sum(g.vcpus for g in h.guests.values())
        if h.hot or vcpus < load * self.host_vcpus:
            return None
        util = min(1.0, load * self.host_vcpus / vcpus)
        for g in h.guests.values():
            g.forced_util = util
        return self._report(h, self.clock())

    def cool_all(self):
        """Give every guest made hot its ordinary load back."""
        for h in self.hosts.values():
            for g in h.guests.values():
                g.forced_util = None

    def move(self, server_id, source, dest):
        """A live migration completed: the guest now runs on ``dest``."""
        src = self.hosts.get(source)
        guest = src.guests.pop(server_id, None) if src else None
        if guest is None:
            # not where the fleet thought (moved twice): look everywhere
            for h in self.hosts.values():
                guest = h.guests.pop(server_id, None)
                if guest is not None:
                    break
        if guest is not None and dest in self.hosts:
            self.hosts[dest].guests[server_id] = guest

    # -- reporting --

    def start(self, now=None):
        """Spread the first reports over one interval from ``now``."""
        now = self.clock() if now is None else now
        for h in self.hosts.values():
            h.next_at = now + h.phase * self.interval

    def due(self, now):
        """Send the reports due by ``now``; returns how many were sent."""
        sent = 0
        for h in self.hosts.values():
            if h.next_at <= now:
                late = now - h.next_at
                self.lag_s += late
                self.max_lag_s = max(self.max_lag_s, late)
                self._report(h, now)
                sent += 1
        return sent

    def next_due(self):
        return min((h.next_at for h in self.hosts.values()),
                   default=self.clock() + self.interval)

    def _step(self, guest):
        if guest.forced_util is not None:
            guest.util = guest.forced_util
            return
        # a mean-reverting walk around the guest's own level
        guest.util = min(1.0, max(0.0, guest.util + 0.3 * (
            guest.base_util - guest.util) + self._rng.gauss(0.0, 0.03)))

    def _report(self, h, now):
        h.next_at = now + self.interval
        h.cycles += 1
        guests, demand, used_mb = [], 0.0, 0.0
        for g in h.guests.values():
            self._step(g)
            demand += g.util * g.vcpus
            mem = 0.4 * g.ram_mb
            used_mb += mem
            guests.append(metrics_mod.GuestMetrics(
                uuid=g.uuid, name='instance-%s' % g.uuid[:8],
                state='running', vcpus=g.vcpus, cpu_util=g.util,
                vcpu_util=[g.util] * min(g.vcpus, 4), cpu_ready=0.0,
                cpu_demand=g.util, max_mb=float(g.ram_mb),
                actual_mb=float(g.ram_mb), total_mb=g.ram_mb - 100.0,
                available_mb=g.ram_mb - 100.0 - mem, unused_mb=100.0,
                used_mb=mem, rss_mb=mem, stats=True, major_fault_rate=0.0,
                swap_in_mb_s=0.0, swap_out_mb_s=0.0, read_mb_s=0.5,
                write_mb_s=0.5, read_iops=10.0, write_iops=10.0,
                rx_mb_s=0.1, tx_mb_s=0.1, smoothed_cpu_util=g.util,
                smoothed_cpu_demand=g.util, smoothed_used_mb=mem,
                sample=_SAMPLE))
        cpu = demand / self.host_vcpus
        mem_load = used_mb / self.host_memory_mb
        load = [min(cpu, 1.0), mem_load, 0.01, 0.01]
        hot = [load[0] > self.thresholds['cpu'],
               mem_load > self.thresholds['memory'], False, False]
        host = metrics_mod.HostMetrics(
            name=h.name, wallclock=now, interval_s=self.interval,
            cpu_count=self.host_vcpus, cpu_util=min(cpu, 1.0), iowait=0.0,
            steal=0.0, total_mb=float(self.host_memory_mb),
            free_mb=self.host_memory_mb - used_mb,
            available_mb=self.host_memory_mb - used_mb, used_mb=used_mb,
            major_fault_rate=0.0, swap_in_mb_s=0.0, swap_out_mb_s=0.0,
            load=load, load_smoothed=load, hot=hot)
        payload = {
            'version': payload_mod.VERSION,
            'host': manager.host_payload(host, self.thresholds),
            'guests': [manager.guest_payload(g, _NO_BALLOON)
                       for g in guests],
            'balloon': {'policy': 'adaptive', 'dry_run': False,
                        'shrunk_mb': 0.0, 'grown_mb': 0.0,
                        'fpr_reclaimed_mb': 0.0, 'without_autodeflate': [],
                        'without_free_page_reporting': []},
            'agent': {'cycle_ms': 1.0, 'libvirt_connected': True,
                      'dropped_notifications': 0},
        }
        pub = h.publisher
        pub.publish(payload_mod.METRICS_EVENT, payload)
        onset = None
        was_hot, h.hot = h.hot, hot[0]
        if h.hot != was_hot:
            raised = ['cpu'] if h.hot else []
            pub.publish(payload_mod.HOTSPOT_EVENT, {
                'version': payload_mod.VERSION, 'host': h.name,
                'timestamp': payload['host']['timestamp'],
                'hot': raised, 'raised': raised,
                'cleared': [] if h.hot else ['cpu'],
                'load_smoothed': dict(zip(resources.RESOURCES, load)),
                'thresholds': self.thresholds})
            if h.hot:
                onset = self.onsets[h.name] = self.clock()
        if self._senders:
            work, _ = self._senders[self._index[h.name] % len(self._senders)]
            work.put(pub)
        else:
            pub.flush()
            self.published += 1
        return onset

    def _send(self, work):
        while True:
            pub = work.get()
            if pub is None:
                return
            try:
                pub.flush()
            except Exception:
                # what is not sent stays buffered: sent with the host's
                # next report
                LOG.exception('Could not send a report')
                with self._sent_lock:
                    self.send_errors += 1
                continue
            with self._sent_lock:
                self.published += 1

    def stop(self):
        senders, self._senders = self._senders, []
        for work, _ in senders:
            # what is still waiting is not sent: the test is over
            while True:
                try:
                    work.get_nowait()
                except queue.Empty:
                    break
            work.put(None)
        for _, thread in senders:
            thread.join(10.0)
        if self._transport is not None:
            self._transport.cleanup()
