# SPDX-License-Identifier: Apache-2.0
"""Counters to metrics: rates, utilisations, smoothing, local hotspots.

Two consecutive samples of a counter give a rate; a counter that went
backwards (a guest rebooted or migrated in) or a guest seen for the first
time gives ``None`` for that cycle, never a made-up number. Sizes are MiB
and rates MiB/s (``mb`` means 2**20 bytes, as in Nova's ``memory_mb``).

Host loads (shares of capacity, in the order of
:data:`nova_drs.model.resources.RESOURCES`) go through the
:class:`nova_drs.detector.HotspotDetector` configured by ``[drs]``, which
smooths them and flags persistent hotspots: the one answer to "is this
host hot?" that the balancer, the API and the Nova scheduler filter all
use. The CPU load is the demand for the host's CPUs (busy time plus the
time the guests waited for a CPU), so that guests starved in bursts make
a hotspot as guests starved steadily do. Guests' CPU and memory use are
smoothed the same way.
"""

import dataclasses
import os

from nova_drs import detector
# NOTE: not nova_drs.model.cluster, which loads numpy: the agent has no
# use for it, and it would be a fifth of the agent's memory
from nova_drs.model import resources

MIB = 1048576.0
KIB_PER_MIB = 1024.0
SECTOR = 512
PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')


def _rate(prev, cur, seconds, scale=1.0):
    """Per-second rate of a counter, None when it cannot be known."""
    if prev is None or cur is None or seconds <= 0 or cur < prev:
        return None
    return (cur - prev) / seconds / scale


# NOTE: slots: one per guest per cycle, made faster and smaller
@dataclasses.dataclass(slots=True)
class GuestMetrics:
    """One guest's metrics for one cycle.

    See doc/source/metrics-payload.rst.
    """

    uuid: str
    name: str
    state: str
    vcpus: int
    cpu_util: float = None
    vcpu_util: list = None
    #: share of its vCPUs' time the guest was ready to run but waited for
    #: a host CPU (None: not known)
    cpu_ready: float = None
    #: what the guest would have used on an idle host: used + ready, as a
    #: share of its vCPUs (the CPU load the balancer plans with)
    cpu_demand: float = None
    max_mb: float = 0.0
    actual_mb: float = 0.0
    total_mb: float = None
    available_mb: float = None
    unused_mb: float = None
    used_mb: float = None
    rss_mb: float = None
    #: the guest's balloon driver reports statistics
    stats: bool = False
    major_fault_rate: float = None
    swap_in_mb_s: float = None
    swap_out_mb_s: float = None
    read_mb_s: float = None
    write_mb_s: float = None
    read_iops: float = None
    write_iops: float = None
    rx_mb_s: float = None
    tx_mb_s: float = None
    smoothed_cpu_util: float = 0.0
    smoothed_cpu_demand: float = 0.0
    smoothed_used_mb: float = 0.0
    #: the inspector's GuestSample (configuration, raw counters)
    sample: object = None


@dataclasses.dataclass
class HostMetrics:
    """The host's metrics for one cycle."""

    name: str
    wallclock: float
    interval_s: float
    cpu_count: int
    cpu_util: float = None
    iowait: float = None
    steal: float = None
    total_mb: float = 0.0
    free_mb: float = 0.0
    available_mb: float = 0.0
    used_mb: float = 0.0
    swap_total_mb: float = 0.0
    swap_free_mb: float = 0.0
    major_fault_rate: float = None
    swap_in_mb_s: float = None
    swap_out_mb_s: float = None
    pressure: dict = None
    disks: list = dataclasses.field(default_factory=list)
    nics: list = dataclasses.field(default_factory=list)
    #: shares of capacity per resource, raw and smoothed
    load: list = dataclasses.field(default_factory=lambda: [0.0] * 4)
    load_smoothed: list = dataclasses.field(default_factory=lambda: [0.0] * 4)
    hot: list = dataclasses.field(default_factory=lambda: [False] * 4)


def guest_metrics(prev, cur):
    """:class:`GuestMetrics` from two samples of a guest (prev may be None).

    :param prev: the guest's previous
        :class:`nova_drs.agent.inspector.GuestSample`, or None.
    :param cur: its current sample.
    """
    m = GuestMetrics(uuid=cur.uuid, name=cur.name, state=cur.state,
                     vcpus=cur.vcpus, sample=cur)
    b = cur.balloon
    m.max_mb = max_mb = b.get('maximum', 0) / KIB_PER_MIB
    m.actual_mb = actual_mb = b.get('current', 0) / KIB_PER_MIB
    if 'rss' in b:
        m.rss_mb = b['rss'] / KIB_PER_MIB
    if 'usable' in b and 'available' in b:
        m.stats = True
        m.total_mb = b['available'] / KIB_PER_MIB
        m.available_mb = b['usable'] / KIB_PER_MIB
        used = m.total_mb - m.available_mb
        if cur.config.autodeflate:
            # with deflate-on-OOM the guest keeps the balloon's pages in
            # its MemTotal (it may take them back): they are not in use
            used -= max_mb - actual_mb
        m.used_mb = max(used, 0.0)
        if 'unused' in b:
            m.unused_mb = b['unused'] / KIB_PER_MIB
    elif m.rss_mb is not None:
        # no guest statistics: what QEMU holds is the best estimate
        m.used_mb = min(m.rss_mb, actual_mb or m.rss_mb)
    if prev is None:
        return m
    dt = cur.monotonic - prev.monotonic
    if dt <= 0:
        return m
    # NOTE: the rates of the CPU counters inline (this runs for every
    # guest every cycle): the arithmetic of _rate(), so the same numbers
    ns = dt * 1e9
    vcpus = cur.vcpus
    p, c = prev.cpu_time, cur.cpu_time
    if p is not None and c is not None and c >= p and vcpus:
        m.cpu_util = min((c - p) / ns / vcpus, 1.0)
    times = cur.vcpu_times
    if times and len(prev.vcpu_times) == len(times):
        util = []
        for p, c in zip(prev.vcpu_times, times):
            if p is None or c is None or c < p:
                util = None
                break
            util.append(min((c - p) / ns, 1.0))
        m.vcpu_util = util
    p, c = prev.vcpu_delays, cur.vcpu_delays
    if p is not None and c is not None and len(p) == len(c) and vcpus:
        waited = _rate(sum(p), sum(c), ns)
        if waited is not None:
            m.cpu_ready = min(waited / vcpus, 1.0)
    if m.cpu_util is not None:
        # NOTE: a guest on a saturated host uses what it gets, not
        # what it needs; the time it waited for a CPU is the rest of
        # its demand (VMware's "CPU ready")
        m.cpu_demand = min(m.cpu_util + (m.cpu_ready or 0.0), 1.0)
    pb = prev.balloon
    m.major_fault_rate = _rate(pb.get('major_fault'), b.get('major_fault'),
                               dt)
    m.swap_in_mb_s = _rate(pb.get('swap_in'), b.get('swap_in'), dt,
                           KIB_PER_MIB)
    m.swap_out_mb_s = _rate(pb.get('swap_out'), b.get('swap_out'), dt,
                            KIB_PER_MIB)
    pk, ck = prev.block, cur.block
    m.read_mb_s = _rate(pk.get('rd.bytes'), ck.get('rd.bytes'), dt, MIB)
    m.write_mb_s = _rate(pk.get('wr.bytes'), ck.get('wr.bytes'), dt, MIB)
    m.read_iops = _rate(pk.get('rd.reqs'), ck.get('rd.reqs'), dt)
    m.write_iops = _rate(pk.get('wr.reqs'), ck.get('wr.reqs'), dt)
    pn, cn = prev.net, cur.net
    m.rx_mb_s = _rate(pn.get('rx.bytes'), cn.get('rx.bytes'), dt, MIB)
    m.tx_mb_s = _rate(pn.get('tx.bytes'), cn.get('tx.bytes'), dt, MIB)
    return m


def host_metrics(name, prev, cur):
    """:class:`HostMetrics` from two host samples (prev may be None)."""
    mem = cur.memory
    m = HostMetrics(
        name=name, wallclock=cur.wallclock, interval_s=None,
        cpu_count=cur.cpu_count,
        total_mb=mem['MemTotal'] / KIB_PER_MIB,
        free_mb=mem['MemFree'] / KIB_PER_MIB,
        available_mb=mem['MemAvailable'] / KIB_PER_MIB,
        swap_total_mb=mem['SwapTotal'] / KIB_PER_MIB,
        swap_free_mb=mem['SwapFree'] / KIB_PER_MIB,
        pressure=cur.pressure)
    m.used_mb = max(m.total_mb - m.available_mb, 0.0)
    dt = cur.monotonic - prev.monotonic if prev is not None else 0.0
    if prev is None or dt <= 0:
        m.disks = [_disk(n, None, None, 0) for n in sorted(cur.disks)]
        m.nics = [_nic(n, None, None, 0) for n in sorted(cur.nics)]
        return m
    m.interval_s = dt
    deltas = {k: cur.cpu[k] - prev.cpu.get(k, 0) for k in cur.cpu}
    total = sum(deltas.values())
    if total > 0 and min(deltas.values()) >= 0:
        m.cpu_util = min(max(
            1.0 - (deltas['idle'] + deltas['iowait']) / total, 0.0), 1.0)
        m.iowait = deltas['iowait'] / total
        m.steal = deltas['steal'] / total
    page_mb = PAGE_SIZE / MIB
    m.major_fault_rate = _rate(prev.vmstat['pgmajfault'],
                               cur.vmstat['pgmajfault'], dt)
    swap_in = _rate(prev.vmstat['pswpin'], cur.vmstat['pswpin'], dt)
    swap_out = _rate(prev.vmstat['pswpout'], cur.vmstat['pswpout'], dt)
    m.swap_in_mb_s = None if swap_in is None else swap_in * page_mb
    m.swap_out_mb_s = None if swap_out is None else swap_out * page_mb
    m.disks = [_disk(n, prev.disks.get(n), c, dt)
               for n, c in sorted(cur.disks.items())]
    m.nics = [_nic(n, prev.nics.get(n), c, dt)
              for n, c in sorted(cur.nics.items())]
    return m


def _disk(name, prev, cur, dt):
    out = {'name': name, 'read_mb_s': None, 'write_mb_s': None,
           'read_iops': None, 'write_iops': None}
    if prev is not None and cur is not None:
        out['read_iops'] = _rate(prev[0], cur[0], dt)
        out['read_mb_s'] = _rate(prev[1], cur[1], dt, MIB / SECTOR)
        out['write_iops'] = _rate(prev[2], cur[2], dt)
        out['write_mb_s'] = _rate(prev[3], cur[3], dt, MIB / SECTOR)
    return out


def _nic(name, prev, cur, dt):
    out = {'name': name, 'rx_mb_s': None, 'tx_mb_s': None}
    if prev is not None and cur is not None:
        out['rx_mb_s'] = _rate(prev[0], cur[0], dt, MIB)
        out['tx_mb_s'] = _rate(prev[1], cur[1], dt, MIB)
    return out


class GuestSmoother:
    """The guests' CPU use, CPU demand and memory use, smoothed.

    The EWMA of :class:`nova_drs.detector.HotspotDetector` (the first
    sample seeds it; the same arithmetic, so the same numbers), without
    its hotspot verdict, which the guests do not need: this runs for
    every guest every cycle.


    :param half_life_s: the detector's half-life (``[drs]
        ewma_half_life_s``, deprecated ``ewma_alpha`` converted).
    :param interval_s: what a sample covers when :meth:`update` is given
        no ``dt`` (``[drs_agent] interval``).
    """

    def __init__(self, half_life_s, interval_s=detector.DEFAULT_INTERVAL_S):
        if not half_life_s >= 0.0:
            raise ValueError('half_life_s must be at least 0, got %r'
                             % half_life_s)
        self.half_life_s = float(half_life_s)
        self.interval_s = float(interval_s)
        self._ewma = {}
        # the weight of the last dt: one cycle's guests share their dt
        self._dt = self._alpha = None

    def update(self, key, cpu, demand, memory, dt=None):
        """Feed one sample of ``key``; its smoothed values after it.

        ``dt``: the seconds the sample covers (None: the interval).
        """
        last = self._ewma.get(key)
        if last is None:
            out = (float(cpu), float(demand), float(memory))
        else:
            dt = self.interval_s if not dt else dt
            if dt != self._dt:
                self._dt, self._alpha = dt, detector.ewma_weight(
                    dt, self.half_life_s)
            alpha = self._alpha
            rest = 1.0 - alpha
            out = (alpha * cpu + rest * last[0],
                   alpha * demand + rest * last[1],
                   alpha * memory + rest * last[2])
        self._ewma[key] = out
        return out

    def forget(self, key):
        self._ewma.pop(key, None)


class MetricsCalculator:
    """Keep the previous samples and the detectors between cycles.

    :param conf: configuration (``[drs]``, ``[drs_agent]``).
    """

    def __init__(self, conf):
        self.host_name = conf.drs_agent.host
        self.disk_capacity = conf.drs_agent.disk_bandwidth_mb_s
        self.net_capacity = conf.drs_agent.network_bandwidth_mb_s
        self.detector = detector.HotspotDetector.from_conf(conf)
        # guests: the same smoothing, no hotspot verdict
        self.guest_smoother = GuestSmoother(self.detector.half_life_s,
                                            self.detector.interval_s)

        self._prev_host = None
        self._prev_guests = {}

    @property
    def thresholds(self):
        return dict(zip(resources.RESOURCES, self.detector.thresholds))

    def update(self, host_sample, guest_samples):
        """Metrics of one cycle.

        :param host_sample: :class:`nova_drs.agent.hoststats.HostSample`.
        :param guest_samples: list of guest samples, or None when libvirt
            could not be read (guests are then not updated).
        :returns: ``(HostMetrics, [GuestMetrics], [uuids gone])``.
        """
        host = host_metrics(self.host_name, self._prev_host, host_sample)
        self._prev_host = host_sample
        if guest_samples is None:
            self._judge(host, 0.0)
            return host, [], []
        guests = [guest_metrics(self._prev_guests.get(s.uuid), s)
                  for s in guest_samples]
        current = {s.uuid: s for s in guest_samples}
        gone = [u for u in self._prev_guests if u not in current]
        for uuid in gone:
            self.guest_smoother.forget(uuid)
        self._prev_guests = current
        # vCPUs' time waiting for a host CPU, in CPUs
        waited = 0.0
        smooth = self.guest_smoother.update
        # NOTE: the rates of this cycle cover the time since the last
        # one (None on the first: the interval); the smoothing and the
        # persistence count that time, so they mean the same seconds at
        # any interval and after a late cycle
        dt = host.interval_s
        for g in guests:
            if g.cpu_ready:
                waited += g.cpu_ready * g.vcpus
            memory = (g.used_mb / g.max_mb
                      if g.max_mb and g.used_mb is not None else 0.0)
            (g.smoothed_cpu_util, g.smoothed_cpu_demand,
             memory) = smooth(g.uuid, g.cpu_util or 0.0,
                              g.cpu_demand or 0.0, memory, dt)
            g.smoothed_used_mb = memory * g.max_mb
        self._judge(host, waited)
        return host, guests, gone

    def _judge(self, host, waited):
        """The host's loads, smoothed, and the detector's verdict."""
        host.load = self._host_load(host, waited)
        key = [self.host_name]
        host.hot = self.detector.update(key, [host.load],
                                        dt=host.interval_s or None)[0]
        host.load_smoothed = self.detector.smoothed(key)[0]

    def _host_load(self, host, waited=0.0):
        """Shares of capacity; ``waited``: CPUs' worth of guest CPU ready.

        CPU is the demand for the host's CPUs: what was used (all
        processes) plus what the guests waited for (their CPU ready),
        at most 1. Guests that contend for a CPU in bursts can leave it
        idle half the time and still wait for it the other half: their
        host is short of CPU although its utilisation is well below 1.
        """
        disk = sum((d['read_mb_s'] or 0.0) + (d['write_mb_s'] or 0.0)
                   for d in host.disks)
        net = sum(max(n['rx_mb_s'] or 0.0, n['tx_mb_s'] or 0.0)
                  for n in host.nics)
        cpu = host.cpu_util or 0.0
        if waited and host.cpu_count:
            cpu = min(cpu + waited / host.cpu_count, 1.0)
        return [cpu,
                host.used_mb / host.total_mb if host.total_mb else 0.0,
                min(disk / self.disk_capacity, 1.0)
                if self.disk_capacity else 0.0,
                min(net / self.net_capacity, 1.0)
                if self.net_capacity else 0.0]
