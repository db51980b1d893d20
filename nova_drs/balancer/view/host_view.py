# SPDX-License-Identifier: Apache-2.0
"""The balancer's live view of the hosts, from the agents' metrics.

:class:`HostView` is the
:class:`~nova_drs.balancer.intake.listener.MetricsHandler` of the metrics
listener. It keeps, safely for several threads:

* per host, the state its agent reported in its latest current
  ``drs.host.metrics`` sample: the raw per-cycle loads (``host.load``),
  the smoothed loads (``host.load_smoothed``), the hot flags
  (``host.hotspot``, or a newer ``drs.host.hotspot`` notification's
  ``hot``) and the thresholds the agent judged them by
  (``host.thresholds``, payload 1.2; the balancer's own ``[drs]``
  thresholds for older agents);
* per instance (by uuid: the libvirt domain uuid is the Nova server id),
  its latest measured load as a :class:`nova_drs.balancer.view.nova_view.
  InstanceLoad`, the ``loads`` mapping :func:`nova_view.collect` takes.

One answer to "is this host hot?". The host's agent decides, with its
:class:`~nova_drs.detector.HotspotDetector` (EWMA + k-of-n) on every sample
it takes; the view keeps its answer and runs no detector of its own.
Every sample is judged where it is taken: a message lost on the way, or a
change of the replica that owns the host, loses no k-of-n history, and
taking a report in costs no detector update. The owning replica
writes this state to ``host_states`` (:meth:`hosts`), which the Nova
scheduler filter and the API read; :meth:`apply` gives it to the planner
in the model (``base_load``, ``thresholds``, ``hot``). So the planner, the
partial mode's severe check, the executor's destination check, the API
and the scheduler filter all judge a host by the same flags, loads and
thresholds.

Thresholds. Each host is judged by its own agent's thresholds. When they
differ from this balancer's ``[drs]`` thresholds the view logs a warning
once per host and change (counter ``threshold_mismatches``): keep
``[drs]`` the same on agents and balancers.

Order. The samples of a host are ordered by the agent's run (a UUID it
draws at start) and sequence number (payload 1.2), not by the host's
clock: within a run a higher number is newer, whatever the timestamps say
(a clock stepped back by NTP changes nothing), a sample of an unknown run
is an agent restart and is taken at once, and a sample of a run already
superseded, or a number already seen (a redelivery), is dropped as out of
order. Payloads without them (1.0, 1.1) are ordered by their timestamps,
and one of them stamped more than ``[drs_listener] max_clock_skew`` ahead
of the balancer's clock is dropped (the listener already drops it; the
view checks again for other callers), so that no single sample can hide
the host's next ones. A sample with sequence numbers cannot hide later
ones, whatever its timestamp: it is kept, and its timestamp only decides
whether it is current (below).

libvirtd down. A ``drs.host.metrics`` report with ``agent.libvirt_connected``
false (the agent could not read its guests) keeps the host current but
makes it *unavailable*: it is neither hot nor a destination, nothing is
moved off it (:meth:`HostView.apply` treats it as a stale host), its
guests keep their last loads, and it fires no urgent event, until a report
with libvirtd connected arrives.

Staleness. A host is *fresh* for ``[drs_listener] stale_after`` seconds
after a current sample of it arrived, and *stale* after that (or before its
first one). Time is measured with the balancer's monotonic clock from
arrival, so the hosts' clocks do not matter, except for one check: a sample
that is already older than ``stale_after`` (by its own timestamp against
the balancer's wall clock) when it arrives, as after a broker outage while
the agent's buffer is delivered, is stored but does not make the host
fresh again, and triggers nothing; so is one stamped more than
``max_clock_skew`` ahead. :meth:`HostView.apply` turns stale and
never-heard-of hosts into hosts no strategy uses.

Hosts whose clock is off. A host whose samples keep disagreeing with the
balancer's clock by the same amount, at its agent's pace, for
``stale_after`` seconds of the balancer's monotonic clock, has its clock
offset learned (:mod:`nova_drs.balancer.view.host_clock`; counter
``clock_offsets``, one warning naming the host and the offset, at most
one per ``drop_log_interval``), and its samples are judged against it
from then on: such a host is stale for ``stale_after`` seconds, not
forever, while a backlog, a replay or a forged sample stays what it was
(not current). Freshness itself is still measured from arrival, so no
timestamp, however far ahead, keeps a host fresh past ``stale_after``.

Urgency. When a ``drs.host.hotspot`` notification raises a resource, or a
current metrics sample flags a resource its agent did not flag before,
the view calls every callback registered with
:meth:`HostView.add_urgent_callback` at once, from the listener's thread,
with an :class:`UrgentEvent`; the balancer service wakes its planner with
it rather than waiting for the next periodic cycle. Only rising edges are
signalled (a resource the view already knows hot is not signalled again,
whichever of the two messages arrives first): a hotspot that persists is
the periodic cycle's business.
"""

import collections
import dataclasses
import math
import threading
import time

import numpy as np
from oslo_log import log as logging

from nova_drs.balancer.intake import listener
from nova_drs.balancer.view import host_clock
from nova_drs.balancer.view import nova_view
from nova_drs.balancer.view import peaks as peaks_mod
from nova_drs.model import cluster

LOG = logging.getLogger(__name__)

#: where an urgent event comes from: the agent's drs.host.hotspot
#: notification, or the hot flags of its drs.host.metrics report
SOURCE_HOTSPOT = 'hotspot notification'
SOURCE_METRICS = 'metrics report'


@dataclasses.dataclass(frozen=True)
class UrgentEvent:
    """A host just became hot: the planner should look at it now."""

    host: str
    #: resources that just became hot
    resources: tuple
    #: every resource its agent flags hot now
    hot: tuple
    #: SOURCE_HOTSPOT or SOURCE_METRICS
    source: str
    #: the agent's timestamp of the sample (seconds since the epoch)
    sampled_at: float
    #: monotonic time the notification was taken in by the listener
    received_at: float


@dataclasses.dataclass(frozen=True)
class HostState:
    """What the view knows of one host (a copy)."""

    name: str
    #: no current sample for ``[drs_listener] stale_after`` seconds
    stale: bool
    #: the agent's timestamp of the latest sample (seconds since the epoch)
    sampled_at: float
    #: monotonic arrival time of the latest current sample (None: none yet)
    received_at: float
    #: resource -> load of the latest cycle (share of capacity)
    load: dict
    #: resource -> the agent's smoothed load (EWMA)
    smoothed: dict
    #: resources its agent flags hot (k-of-n), as it last said: the one
    #: hot state of the host
    hot: tuple
    cpu_count: int
    memory_total_mb: float
    #: uuids of the active guests of the latest sample
    guests: tuple
    #: the agent could read its guests in the latest sample; when false
    #: the host is unavailable (see the module's documentation)
    libvirt_connected: bool
    #: the agent's count of notifications it could not send
    agent_dropped_notifications: int
    #: the latest sample's balloon totals (the payload's ``balloon``) and,
    #: under ``guests``, each guest's balloon state and memory sizes
    balloon: dict = None
    #: resource -> the threshold the host is judged by: its agent's
    #: (payload 1.2), else this balancer's ``[drs]`` one
    thresholds: dict = None
    #: set by the balancer, not the agent: ``empty`` when the host runs
    #: no guest and none is on its way, ``disabled`` when nova-drs also
    #: disabled its service (:mod:`nova_drs.balancer.planning.consolidation`)
    consolidation: str = None
    #: set by the balancer when it writes the state: the host's Placement
    #: capacity as this replica read it (``Capacity.as_dict()``), shared
    #: with the other replicas (:mod:`nova_drs.balancer.view.capacity`)
    capacity: dict = None


@dataclasses.dataclass
class ApplyReport:
    """What :meth:`HostView.apply` changed in a model."""

    #: hosts of the model marked disabled: stale, or never reported
    stale_hosts: list
    #: of those, the hosts the view has never heard of
    never_reported: list
    #: instances on those hosts and on ``libvirt_down`` ones, marked
    #: opt_out
    pinned_instances: list
    #: instances whose loads were set from metrics
    updated_instances: int
    #: instances of the model without metrics (left as they were)
    without_metrics: list
    #: fresh hosts of the model whose agent cannot read its guests
    #: (libvirtd down), marked disabled like stale hosts
    libvirt_down: list = dataclasses.field(default_factory=list)


class _Order:
    """Tells the new samples of one stream (metrics, or hotspots) of a host.

    By run and sequence number when the payload has them, by timestamp
    otherwise (see the module's documentation).
    """

    #: superseded runs remembered, so that a late message of one of them
    #: is not taken for a restart
    OLD_RUNS = 8

    __slots__ = ('run_id', 'sequence', 'sampled_at', 'old_runs')

    def __init__(self):
        self.run_id = None
        self.sequence = None
        self.sampled_at = -math.inf
        self.old_runs = collections.deque(maxlen=self.OLD_RUNS)

    def verdict(self, report, late):
        """What ``report`` is to this stream.

        ``new``, ``restart`` (a new run), ``old`` (a duplicate, or
        superseded, or overtaken) or ``late_restart`` (an unknown run
        whose sample is already old: a replay, or a backlog; not taken).
        """
        if report.run_id is None or report.sequence is None:
            return 'new' if report.sampled_at > self.sampled_at else 'old'
        if report.run_id == self.run_id:
            return 'new' if report.sequence > self.sequence else 'old'
        if report.run_id in self.old_runs:
            return 'old'
        if self.run_id is not None and late:
            return 'late_restart'
        return 'restart' if self.run_id is not None else 'new'

    def take(self, report):
        if report.run_id is not None and report.sequence is not None:
            if self.run_id is not None and report.run_id != self.run_id:
                self.old_runs.append(self.run_id)
            self.run_id, self.sequence = report.run_id, report.sequence
        self.sampled_at = report.sampled_at


def _after(new, old):
    """Whether ``(run_id, sequence, sampled_at)`` ``new`` is not older."""
    if old is None:
        return True
    if None not in (new[0], new[1], old[0], old[1]):
        # superseded runs never get this far: another run is a newer one
        return new[1] >= old[1] if new[0] == old[0] else True
    return new[2] >= old[2]


def _position(report):
    return (report.run_id, report.sequence, report.sampled_at)


@dataclasses.dataclass
class _Host:
    name: str
    sampled_at: float
    received_at: float = None
    fresh_until: float = -math.inf
    load: np.ndarray = None
    smoothed: np.ndarray = None
    #: the thresholds it is judged by: its agent's, else the balancer's
    #: (None: no metrics report yet)
    thresholds: np.ndarray = None
    cpu_count: int = 0
    memory_total_mb: float = 0.0
    guests: tuple = ()
    libvirt_connected: bool = True
    agent_dropped_notifications: int = 0
    balloon: dict = None
    order: _Order = dataclasses.field(default_factory=_Order)


@dataclasses.dataclass
class _Instance:
    host: str
    sampled_at: float
    load: nova_view.InstanceLoad


def _text(thresholds):
    return ', '.join('%s %g' % (r, t)
                     for r, t in zip(cluster.RESOURCES, thresholds))


def _number(value):
    return 0.0 if value is None else float(value)


def _balloon(doc):
    """Balloon totals of a metrics payload, with each guest's state."""
    out = dict(doc.get('balloon') or {})
    guests = {}
    for guest in doc['guests']:
        memory = guest.get('memory') or {}
        entry = dict(guest.get('balloon') or {})
        entry['actual_mb'] = memory.get('actual_mb')
        entry['max_mb'] = memory.get('max_mb')
        entry['used_mb'] = memory.get('used_mb')
        guests[guest['uuid']] = entry
    out['guests'] = guests
    return out


def instance_load(guest):
    """The :class:`nova_view.InstanceLoad` of one ``guests[]`` entry.

    CPU and memory are the agent's smoothed values (the EWMA of ``[drs]
    ewma_half_life_s``; for CPU the guest's demand, used + ready, when the
    agent reports it), the same smoothing as the host loads the detector
    compares with the thresholds), so that one busy cycle of one guest
    does not make its host look hot in the model. Disk is read + write and
    network rx + tx, in MiB/s, as the simulator's traces count them; a rate
    the agent could not know yet (null) counts as 0.
    """
    smoothed = guest['smoothed']
    disk, net = guest['disk'], guest['network']
    # demand (used + ready, payload 1.1) where the agent knows it: what a
    # guest uses on a saturated host understates what it will use when
    # moved to a host with room
    cpu = smoothed.get('cpu_demand')
    if cpu is None:
        cpu = smoothed['cpu_util']
    return nova_view.InstanceLoad(
        cpu_util=min(max(float(cpu), 0.0), 1.0),
        mem_used_mb=float(smoothed['memory_used_mb']),
        disk_mb_s=_number(disk['read_mb_s']) + _number(disk['write_mb_s']),
        net_mb_s=_number(net['rx_mb_s']) + _number(net['tx_mb_s']))


class HostView(listener.MetricsHandler):
    """Latest metrics per host and instance, staleness, urgent signals.

    :param conf: configuration (``[drs]`` thresholds: those of hosts whose
        agent does not send its own; ``[drs_listener]``).
    :param clock: monotonic clock (arrival times, staleness).
    :param wall_clock: wall clock, only to tell how old a sample is when
        it arrives.
    :param peak_window_s: how far back each instance's recent peak load
        looks (:mod:`nova_drs.balancer.view.peaks`; the model's
        ``instances.peak``, which consolidation packs by).
    :param recent_window_s: the short window destinations are judged on
        (``[drs_balancer] destination_peak_window``; the model's
        ``instances.recent_slices``); 0: none kept.
    """

    def __init__(self, conf, clock=time.monotonic, wall_clock=time.time,
                 peak_window_s=peaks_mod.DEFAULT_WINDOW_S,
                 recent_window_s=0):
        opts = conf.drs_listener
        self.stale_after = float(opts.stale_after)
        self.max_clock_skew = float(opts.max_clock_skew)
        #: this balancer's [drs] thresholds
        self.thresholds = cluster.thresholds_from_conf(conf)
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._hosts = {}
        self._instances = {}
        # host -> shared_state.SharedHost: hosts other replicas own, as
        # their owners shared them (partitioned intake; set_shared)
        self._shared = {}
        #: each instance's recent peak load, by uuid
        self.peaks = peaks_mod.PeakTracker(peak_window_s)
        #: the same over the short window destinations are judged on
        #: (None: off). A second ring of the same design rather than a
        #: finer one over 24 h: twelve 75-second slices cost what the
        #: long window's twelve cost, whatever the sampling rate. Its
        #: slices keep the time-weighted mean, not the maximum: a burst
        #: shorter than a slice cannot make a host hot, and must not
        #: refuse it as a destination for the whole window (consolidation
        #: keeps maxima: its two-hour slices' means would hide a busy
        #: half hour; see peaks_mod)
        self.recent = (peaks_mod.PeakTracker(recent_window_s,
                                             per_slice=peaks_mod.MEAN)
                       if recent_window_s and recent_window_s > 0 else None)
        # host -> ((run_id, sequence, sampled_at), hot resources) as its
        # agent last said, in a metrics report or a hotspot notification
        self._flags = {}
        # host -> _Order of its hotspot notifications
        self._hotspot_order = {}
        # host -> host_clock.HostClock: its clock's offset, as learned;
        # kept when the host is forgotten (another replica owns it for a
        # while), dropped when it leaves the cloud (prune)
        self._host_clocks = {}
        self._callbacks = []
        self._log = listener.RateLimitedLog(opts.drop_log_interval, clock,
                                            logger=LOG)
        #: samples, out_of_order, late, agent_restarts, late_restarts,
        #: clock_steps_back, future, clock_offsets, libvirt_down (samples),
        #: hotspot_events, urgent, callback_errors, threshold_mismatches
        self.counters = collections.Counter()

    # -- urgent signal --------------------------------------------------------

    def add_urgent_callback(self, callback):
        """Call ``callback(event)`` whenever a host becomes hot.

        The callback runs in the listener's thread and must return quickly
        (set an event, put in a queue). What it raises is logged and
        counted, and does not stop other callbacks.
        """
        with self._lock:
            self._callbacks.append(callback)

    def _fire(self, events):
        if not events:
            return
        with self._lock:
            callbacks = list(self._callbacks)
            self.counters['urgent'] += len(events)
        for event in events:
            LOG.info('Host %(host)s became hot (%(resources)s, from the '
                     '%(source)s)', {'host': event.host,
                                     'resources': ', '.join(event.resources),
                                     'source': event.source})
            for callback in callbacks:
                try:
                    callback(event)
                except Exception:
                    with self._lock:
                        self.counters['callback_errors'] += 1
                    LOG.exception('Urgent callback %r failed', callback)

    # -- intake (MetricsHandler) ---------------------------------------------

    def _clock_of(self, name):
        clock = self._host_clocks.get(name)
        if clock is None:
            clock = self._host_clocks[name] = host_clock.HostClock(
                self.stale_after, self.max_clock_skew)
        return clock

    def _age(self, report, now_wall):
        """How old ``report`` was on arrival, by its host's clock."""
        return self._clock_of(report.host).peek(report.sampled_at - now_wall)

    def _late(self, report, now_wall):
        """Whether a hotspot notification is not current (counted)."""
        if self._age(report, now_wall) <= self.stale_after:
            return False
        self._not_current(report, now_wall - report.sampled_at)
        return True

    def _not_current(self, report, behind):
        """Count and log a sample that is not current."""
        if behind >= 0:
            self.counters['late'] += 1
            self._log.warning(
                'late', 'A %(event)s sample of host %(host)s was %(age).0f '
                's old when it arrived (a backlog after an outage, or the '
                'host\'s clock is behind); it does not make the host '
                'current (a clock is learned once its samples have said '
                'the same for %(confirm)g s)',
                {'event': report.event_type, 'host': report.host,
                 'age': behind, 'confirm': self.stale_after})
        else:
            self.counters['future'] += 1
            self._log.warning(
                'future', 'A %(event)s sample of host %(host)s is stamped '
                '%(ahead).0f s ahead of this balancer\'s clock (a forged '
                'or misdated message, or the host\'s clock is ahead); it '
                'does not make the host current (a clock is learned once '
                'its samples have said the same for %(confirm)g s)',
                {'event': report.event_type, 'host': report.host,
                 'ahead': -behind, 'confirm': self.stale_after})

    def _judge_clock(self, report, now_wall):
        """Whether a new metrics sample is not current; learns the clock."""
        verdict = self._clock_of(report.host).judge(
            report.sampled_at - now_wall, report.received_at)
        if verdict.adopted_s is not None:
            self.counters['clock_offsets'] += 1
            self._log.warning(
                'clock_offset', 'The clock of host %(host)s is %(offset).0f '
                's %(direction)s this balancer\'s: its samples have said so '
                'for %(waited).0f s, so they are judged against that offset '
                'from now on (keep the hosts\' clocks in sync with NTP; a '
                'queue that delivers them this late looks the same)',
                {'host': report.host, 'offset': abs(verdict.adopted_s),
                 'direction': ('ahead of' if verdict.adopted_s > 0
                               else 'behind'),
                 'waited': verdict.confirmed_after_s})
        if verdict.kind == host_clock.CURRENT:
            return False
        self._not_current(report, now_wall - report.sampled_at)
        return True

    def _future(self, report, now_wall):
        ahead = report.sampled_at - now_wall
        if ahead <= self.max_clock_skew:
            return False
        self.counters['future'] += 1
        self._log.warning(
            'future', 'A %(event)s sample of host %(host)s is stamped '
            '%(ahead).0f s in the future; dropped (its payload has no '
            'sequence numbers: it would hide the host\'s next samples)',
            {'event': report.event_type, 'host': report.host,
             'ahead': ahead})
        return True

    def _accept(self, order, report, now_wall):
        """Whether ``report`` is new in ``order``'s stream; counts it."""
        if (report.run_id is None or report.sequence is None) and \
                self._future(report, now_wall):
            # ordered by its timestamp: it would hide the next samples
            return False
        late = self._age(report, now_wall) > self.stale_after
        verdict = order.verdict(report, late)
        if verdict == 'old':
            # a duplicate (redelivery), or overtaken by a newer sample
            self.counters['out_of_order'] += 1
            return False
        if verdict == 'late_restart':
            self.counters['late_restarts'] += 1
            self._log.warning(
                'late_restart', 'A %(event)s sample of host %(host)s from '
                'an unknown agent run is already %(age).0f s old: ignored '
                '(a replay, or a backlog from before a restart)',
                {'event': report.event_type, 'host': report.host,
                 'age': now_wall - report.sampled_at})
            return False
        if verdict == 'restart':
            self.counters['agent_restarts'] += 1
        elif (report.sequence is not None
              and report.sampled_at < order.sampled_at):
            self.counters['clock_steps_back'] += 1
            self._log.warning(
                'clock_step', 'The clock of host %(host)s went back by '
                '%(step).1f s; its samples are ordered by their sequence '
                'numbers', {'host': report.host,
                            'step': order.sampled_at - report.sampled_at})
        order.take(report)
        return True

    @staticmethod
    def _ordered(reports):
        """``reports``, each host's in its agent's order.

        A batch may hold several samples of a host (a backlog): they are
        sorted by run (in order of arrival) and sequence number, or by
        timestamp for payloads without them.
        """
        by_host = {}
        for report in reports:
            by_host.setdefault(report.host, []).append(report)
        ordered = []
        for host_reports in by_host.values():
            runs = {}
            for r in host_reports:
                runs.setdefault(r.run_id, len(runs))
            host_reports.sort(key=lambda r: (
                runs[r.run_id], r.sampled_at if r.sequence is None
                else r.sequence))
            ordered.extend(host_reports)
        return ordered

    def on_metrics(self, reports):
        now_wall = self._wall_clock()
        events = []
        with self._lock:
            for report in self._ordered(reports):
                event = self._metrics(report, now_wall)
                if event is not None:
                    events.append(event)
        self._fire(events)

    def _metrics(self, report, now_wall):
        host = self._hosts.get(report.host)
        order = host.order if host is not None else _Order()
        if not self._accept(order, report, now_wall):
            return None
        if host is None:
            host = self._hosts[report.host] = _Host(
                report.host, report.sampled_at, order=order)
        self.counters['samples'] += 1
        late = self._judge_clock(report, now_wall)
        if not report.payload['agent']['libvirt_connected']:
            self.counters['libvirt_down'] += 1
            self._store_down(host, report, late)
            return None
        if not host.libvirt_connected:
            LOG.info('The agent of host %s reads its guests again',
                     report.host)
        before = self._hot(report.host)
        self._store(host, report, late)
        after = self._hot(report.host)
        raised = tuple(r for r in after if r not in before)
        if raised and not late:
            return UrgentEvent(
                host=report.host, resources=raised, hot=after,
                source=SOURCE_METRICS, sampled_at=report.sampled_at,
                received_at=report.received_at)
        return None

    def _store_common(self, host, report, late):
        """What a metrics report says of the host, libvirtd up or down."""
        doc = report.payload['host']
        host.sampled_at = report.sampled_at
        if not late:
            host.received_at = report.received_at
            host.fresh_until = report.received_at + self.stale_after
        host.load = np.array([doc['load'][r] for r in cluster.RESOURCES],
                             dtype=float)
        host.smoothed = np.array([doc['load_smoothed'][r]
                                  for r in cluster.RESOURCES], dtype=float)
        self._take_thresholds(host, doc.get('thresholds'))
        host.cpu_count = doc['cpu']['count']
        host.memory_total_mb = doc['memory']['total_mb']
        host.agent_dropped_notifications = report.payload['agent'][
            'dropped_notifications']

    def _take_thresholds(self, host, reported):
        """The host's thresholds: its agent's, else this balancer's."""
        if reported is None:
            # an agent before payload 1.2: it judges with its own [drs]
            # thresholds but does not say which; assume ours
            thresholds = self.thresholds
        else:
            thresholds = np.array([reported[r] for r in cluster.RESOURCES],
                                  dtype=float)
        previous, host.thresholds = host.thresholds, thresholds
        if previous is not None and np.array_equal(previous, thresholds):
            return
        if not np.allclose(thresholds, self.thresholds, rtol=0, atol=1e-9):
            # once per host and change: the operator should know, the
            # host is judged by its agent's all the same
            self.counters['threshold_mismatches'] += 1
            LOG.warning(
                'The agent of host %(host)s judges it hot with the '
                'thresholds %(theirs)s, this balancer\'s [drs] thresholds '
                'are %(ours)s: the balancer judges %(host)s by its '
                'agent\'s. Keep [drs] the same on agents and balancers',
                {'host': host.name, 'theirs': _text(thresholds),
                 'ours': _text(self.thresholds)})
        elif previous is not None:
            LOG.info('The agent of host %(host)s now uses the same '
                     'thresholds as this balancer (%(ours)s)',
                     {'host': host.name, 'ours': _text(thresholds)})

    def _store_down(self, host, report, late):
        """A report without guests: the host is current but unavailable."""
        if host.libvirt_connected:
            self._log.warning(
                'libvirt_down', 'The agent of host %(host)s cannot read its '
                'guests (libvirtd down?): no migration to or from it until '
                'it can', {'host': report.host})
        # what /proc says of the host, for the operator; without its
        # guests the host is no hotspot to act on: its flags are dropped
        self._store_common(host, report, late)
        host.libvirt_connected = False
        self._set_flags(report.host, _position(report), ())
        # the guests are unknown, not gone: their last loads, the host's
        # guest list and balloon state stay as they were

    def _store(self, host, report, late):
        doc = report.payload
        name = report.host
        self._store_common(host, report, late)
        host.libvirt_connected = True
        self._set_flags(name, _position(report), tuple(
            r for r in cluster.RESOURCES if doc['host']['hotspot'][r]))

        previous = host.guests
        current = []
        now = self._clock()
        for guest in doc['guests']:
            uuid = guest['uuid']
            current.append(uuid)
            load = instance_load(guest)
            values = (load.cpu_util, load.mem_used_mb, load.disk_mb_s,
                      load.net_mb_s)
            self.peaks.record(uuid, values, now)
            if self.recent is not None:
                self.recent.record(uuid, values, now)
            known = self._instances.get(uuid)
            # during a live migration both hosts report the guest: the
            # newest sample wins
            if known is None or known.host == name or \
                    known.sampled_at <= report.sampled_at:
                self._instances[uuid] = _Instance(
                    name, report.sampled_at, load)
        host.guests = tuple(current)
        host.balloon = _balloon(doc)
        for uuid in set(previous).difference(current):
            known = self._instances.get(uuid)
            if known is not None and known.host == name:
                del self._instances[uuid]

    def _hot(self, name):
        """The resources the agent of ``name`` flags hot now."""
        return self._flags.get(name, (None, ()))[1]

    def _set_flags(self, name, position, hot):
        """Take the agent's flags unless newer ones are known."""
        known = self._flags.get(name)
        if known is None or _after(position, known[0]):
            self._flags[name] = (position, hot)

    def on_hotspots(self, reports):
        now_wall = self._wall_clock()
        events = []
        with self._lock:
            for report in self._ordered(reports):
                event = self._hotspot(report, now_wall)
                if event is not None:
                    events.append(event)
        self._fire(events)

    def _hotspot(self, report, now_wall):
        order = self._hotspot_order.get(report.host)
        if order is None:
            order = self._hotspot_order[report.host] = _Order()
        if not self._accept(order, report, now_wall):
            return None
        self.counters['hotspot_events'] += 1
        host = self._hosts.get(report.host)
        if host is not None and not host.libvirt_connected:
            # its agent cannot read its guests: nothing to act on
            return None
        doc = report.payload
        before = self._hot(report.host)
        self._set_flags(report.host, _position(report), tuple(
            r for r in cluster.RESOURCES if r in doc['hot']))
        # a resource the view already knows hot (its metrics report came
        # first) is no news
        raised = tuple(r for r in cluster.RESOURCES
                       if r in doc['raised'] and r not in before)
        if raised and not self._late(report, now_wall):
            return UrgentEvent(
                host=report.host, resources=raised,
                hot=self._hot(report.host), source=SOURCE_HOTSPOT,
                sampled_at=report.sampled_at,
                received_at=report.received_at)
        return None

    # -- queries --------------------------------------------------------------

    def _state(self, host, now):
        def per_resource(values):
            if values is None:
                return {r: 0.0 for r in cluster.RESOURCES}
            return {r: float(v) for r, v in zip(cluster.RESOURCES, values)}
        return HostState(
            name=host.name, stale=now > host.fresh_until,
            sampled_at=host.sampled_at, received_at=host.received_at,
            load=per_resource(host.load),
            smoothed=per_resource(host.smoothed),
            hot=self._hot(host.name), cpu_count=host.cpu_count,
            memory_total_mb=host.memory_total_mb, guests=host.guests,
            libvirt_connected=host.libvirt_connected,
            agent_dropped_notifications=host.agent_dropped_notifications,
            balloon=host.balloon,
            thresholds=per_resource(host.thresholds
                                    if host.thresholds is not None
                                    else self.thresholds))

    def host(self, name):
        """The :class:`HostState` of ``name``, None if never heard of.

        A host only known from another replica's shared state
        (:meth:`set_shared`) has no guests, balloon or drop count, and
        this balancer's thresholds.
        """
        now = self._clock()
        with self._lock:
            host = self._hosts.get(name)
            if host is not None:
                return self._state(host, now)
            shared, until = self._shared.get(name, (None, None))
        if shared is None:
            return None
        return HostState(
            name=name, stale=now > until, sampled_at=None,
            received_at=None, load=dict(shared.smoothed),
            smoothed=dict(shared.smoothed), hot=shared.hot,
            cpu_count=shared.cpu_count,
            memory_total_mb=shared.memory_total_mb, guests=(),
            libvirt_connected=shared.libvirt_connected,
            agent_dropped_notifications=0, balloon=None,
            thresholds=dict(zip(cluster.RESOURCES, self.thresholds)))

    def set_shared(self, shared):
        """Replace the states of the hosts other replicas own.

        :param shared: host -> :class:`~nova_drs.balancer.coordination.
            shared_state.SharedHost` (compact: no per-guest metrics). Used by
            :meth:`apply` and :meth:`host` for hosts without a current
            sample here; :meth:`hosts` (what this replica writes to the
            database) never includes them.
        """
        now = self._clock()
        with self._lock:
            self._shared = {name: (state, now + state.trusted_for_s)
                            for name, state in shared.items()}

    def hosts(self):
        """Every host heard of: name -> :class:`HostState`."""
        now = self._clock()
        with self._lock:
            return {name: self._state(host, now)
                    for name, host in self._hosts.items()}

    def is_stale(self, name):
        """True unless a current sample of ``name`` is recent enough."""
        now = self._clock()
        with self._lock:
            host = self._hosts.get(name)
            return host is None or now > host.fresh_until

    def stale_hosts(self):
        """Sorted names of the hosts heard of that are stale now."""
        now = self._clock()
        with self._lock:
            return sorted(name for name, host in self._hosts.items()
                          if now > host.fresh_until)

    def fresh_hosts(self):
        """Sorted names of the hosts with current metrics."""
        now = self._clock()
        with self._lock:
            return sorted(name for name, host in self._hosts.items()
                          if now <= host.fresh_until)

    def libvirt_down_hosts(self):
        """Sorted names of the fresh hosts whose libvirtd is down.

        Their agent cannot read their guests: they are unavailable, see
        :meth:`apply`.
        """
        now = self._clock()
        with self._lock:
            return sorted(name for name, host in self._hosts.items()
                          if now <= host.fresh_until
                          and not host.libvirt_connected)

    def hot_hosts(self):
        """Fresh hosts that are hot: name -> resources.

        The resources their agent flags hot. Hosts whose agent cannot
        read its guests are never hot.
        """
        now = self._clock()
        out = {}
        with self._lock:
            for name, host in self._hosts.items():
                if now > host.fresh_until or not host.libvirt_connected:
                    continue
                hot = self._hot(name)
                if hot:
                    out[name] = hot
        return out

    def loads(self):
        """Instance uuid -> :class:`nova_view.InstanceLoad`, the latest.

        The ``loads`` argument of :func:`nova_view.collect`. Instances of
        stale hosts are included: :meth:`apply` is what keeps strategies
        off stale hosts.
        """
        with self._lock:
            return {uuid: dataclasses.replace(inst.load)
                    for uuid, inst in self._instances.items()}

    def stats(self):
        """Counters and the number of hosts, fresh hosts and instances."""
        now = self._clock()
        with self._lock:
            out = dict(self.counters)
            out['hosts'] = len(self._hosts)
            out['fresh_hosts'] = sum(1 for h in self._hosts.values()
                                     if now <= h.fresh_until)
            out['instances'] = len(self._instances)
        return out

    # -- housekeeping ---------------------------------------------------------

    def forget(self, name):
        """Drop everything known of host ``name`` (it left the cloud)."""
        with self._lock:
            self._forget(name)

    def _forget(self, name):
        host = self._hosts.pop(name, None)
        self._flags.pop(name, None)
        self._hotspot_order.pop(name, None)
        if host is None:
            return
        for uuid in host.guests:
            known = self._instances.get(uuid)
            if known is not None and known.host == name:
                del self._instances[uuid]

    def prune(self, keep):
        """Forget every host not in ``keep`` (e.g. the hosts Nova has).

        :returns: the names forgotten.
        """
        keep = set(keep)
        with self._lock:
            gone = sorted(set(self._hosts).union(self._flags)
                          .difference(keep))
            for name in gone:
                self._forget(name)
            for name in set(self._host_clocks).difference(keep):
                del self._host_clocks[name]
            # instances no host reported for a whole window
            self.peaks.prune(self._clock())
            if self.recent is not None:
                self.recent.prune(self._clock())
        return gone

    # -- the model ------------------------------------------------------------

    def apply(self, model):
        """Put the latest metrics into ``model`` and fence off stale hosts.

        In place (apply to ``model.copy()`` to keep the original):

        * every instance with metrics gets ``cpu_util``, ``mem_used_mb``,
          ``disk_mb_s`` and ``net_mb_s`` from them, clamped as
          :func:`nova_view.collect` clamps its ``loads`` (CPU 0-1, memory
          0-flavor); instances without metrics keep their values
          (``nova_view``'s defaults: CPU idle, all flavor memory in use);
        * every host that is stale, that the view has never heard of, or
          whose agent reports it cannot read its guests (libvirtd down),
          is marked ``disabled``, and its instances ``opt_out``;
        * the hosts' measured state (see :mod:`nova_drs.model.cluster`):
          ``hosts.hot``, the flags of each available host's agent (no
          flag on the others: they are fenced off); ``hosts.thresholds``,
          each host's (this balancer's ``[drs]`` ones for hosts it never
          heard of); ``hosts.base_load``, per available host its agent's
          smoothed load x capacity - its guests' demand (after the loads
          above), at least 0: what the host's own processes use, 0 on
          the others;
        * ``instances.peak_slices`` and ``instances.peak``: each
          instance's recent peak load (:attr:`peaks`), per slice of the
          window and overall, NaN where the view has none;
        * ``instances.recent_slices``: each instance's time-weighted
          mean load per slice of the short window destinations are
          judged on (:attr:`recent`), when it is kept, and
          ``instances.recent_newest``, the row of its newest slice.

        :returns: an :class:`ApplyReport`.
        """
        now = self._clock()
        with self._lock:
            fresh = {name for name, host in self._hosts.items()
                     if now <= host.fresh_until}
            down = {name for name in fresh
                    if not self._hosts[name].libvirt_connected}
            known = set(self._hosts)
            loads = {uuid: inst.load for uuid, inst in
                     self._instances.items()}
            # name -> (smoothed loads, hot flags) of the available hosts
            measured = {name: (self._hosts[name].smoothed, self._hot(name))
                        for name in fresh - down}
            thresholds = {name: host.thresholds
                          for name, host in self._hosts.items()
                          if host.thresholds is not None}
            # hosts other replicas own and this one gets no metrics of:
            # their owners' shared state, while it is trusted
            for name, (shared, until) in self._shared.items():
                if name in fresh or now > until:
                    continue
                fresh.add(name)
                known.add(name)
                if not shared.libvirt_connected:
                    down.add(name)
                    continue
                measured[name] = (np.array([shared.smoothed[r] for r in
                                            cluster.RESOURCES]),
                                  shared.hot)
            # NOTE: only copies under the lock (a dict look-up per
            # instance, two vectorised reads per tracker): the slices are
            # made outside it, so the intake waits as little as it can
            names = model.instances.names
            peak_rows = self.peaks.copy_rows(names)
            recent_rows = (None if self.recent is None
                           else self.recent.copy_rows(names))
        peaks = self.peaks.slices_of(*peak_rows, now)
        recent = (None if recent_rows is None
                  else self.recent.slices_of(*recent_rows, now))

        hosts, inst = model.hosts, model.instances
        stale = np.array([name not in fresh for name in hosts.names],
                         dtype=bool)
        # NOTE: a host whose libvirtd is down is as unusable as a stale
        # one: the balancer cannot know its guests, and Nova cannot migrate
        # to or from it
        libvirt_down = np.array([name in down for name in hosts.names],
                                dtype=bool)
        unavailable = stale | libvirt_down
        # NOTE: "disabled" is the lever because it already means "send
        # nothing here" wherever a destination is chosen: PlacementState
        # lets only enabled hosts receive, the balance strategy levels only
        # enabled hosts, and nova_view sets it for hosts Nova's
        # ComputeFilter refuses. It keeps the host's capacity, instances and
        # allocations in the model, which are real: dropping the host would
        # lose its instances from server group counts, and faking a full
        # load would make it a hotspot, hence a migration source, on no
        # evidence. A disabled host can still be a source, so its
        # instances are also opted out: their loads are old, and a host
        # that stopped reporting may not be reachable to migrate from.
        hosts.disabled |= unavailable
        on_stale = (unavailable[inst.host] if len(inst)
                    else np.zeros(0, bool))
        inst.opt_out |= on_stale

        rows, values, missing = [], [], []
        for i, uuid in enumerate(inst.names):
            load = loads.get(uuid)
            if load is None:
                missing.append(uuid)
                continue
            rows.append(i)
            values.append((load.cpu_util, load.mem_used_mb, load.disk_mb_s,
                           load.net_mb_s))
        if rows:
            rows = np.array(rows)
            values = np.array(values, dtype=float)
            inst.cpu_util[rows] = np.clip(values[:, 0], 0.0, 1.0)
            flavor = inst.memory_mb[rows].astype(float)
            inst.mem_used_mb[rows] = np.clip(values[:, 1], 0.0, flavor)
            inst.disk_mb_s[rows] = np.maximum(values[:, 2], 0.0)
            inst.net_mb_s[rows] = np.maximum(values[:, 3], 0.0)

        _apply_measured(model, measured, thresholds, self.thresholds)
        _apply_peaks(model, peaks)
        if recent is not None:
            model.instances.recent_slices = _slices(model, recent)
            # their time order: the hot hosts' trend reads it
            model.instances.recent_newest = peaks_mod.newest_row(
                now, self.recent.slice_s)

        stale_names = [n for n, s in zip(hosts.names, stale) if s]
        return ApplyReport(
            stale_hosts=stale_names,
            never_reported=[n for n in stale_names if n not in known],
            pinned_instances=[inst.names[i]
                              for i in np.flatnonzero(on_stale)],
            updated_instances=len(rows),
            without_metrics=missing,
            libvirt_down=[n for n, d in zip(hosts.names, libvirt_down)
                          if d])


def _apply_peaks(model, peaks):
    """Set ``instances.peak_slices`` and ``instances.peak``.

    :param peaks: (instances, BUCKETS, 4) tracker slices, NaN where no
        peak is known; clamped as the current loads are (CPU 0-1, memory
        0-flavor).
    """
    inst = model.instances
    out = _slices(model, peaks)
    inst.peak_slices = out
    with np.errstate(all='ignore'):
        # an all-NaN row stays NaN (no peak known)
        inst.peak = np.fmax.reduce(out, axis=1).astype(float)


def _slices(model, peaks):
    """Tracker slices clamped as the current loads are, in place.

    :param peaks: (instances, BUCKETS, 4) float32, NaN where no sample
        (:meth:`~peaks_mod.PeakTracker.slices_of`); clamped as the
        current loads are (CPU 0-1, memory 0-flavor)
    """
    inst = model.instances
    out = peaks
    if len(inst):
        out[:, :, 0] = np.clip(out[:, :, 0], 0.0, 1.0)
        out[:, :, 1] = np.minimum(np.maximum(out[:, :, 1], 0.0),
                                  inst.memory_mb.astype(np.float32)[:, None])
        out[:, :, 2:] = np.maximum(out[:, :, 2:], 0.0)
    return out


def _apply_measured(model, measured, thresholds, default):
    """Set the model's ``base_load``, ``thresholds`` and ``hot``.

    :param measured: host -> (smoothed loads, hot resources) of the hosts
        available to the planner
    :param thresholds: host -> its thresholds (array of four)
    :param default: the thresholds of hosts not in ``thresholds``
    """
    hosts = model.hosts
    n = len(hosts)
    width = len(cluster.RESOURCES)
    base = np.zeros((n, width))
    hot = np.zeros((n, width), dtype=bool)
    own = np.tile(np.asarray(default, dtype=float), (n, 1))
    rows = [h for h, name in enumerate(hosts.names) if name in measured]
    if rows:
        capacity = model.capacity()
        guests = model.guest_demand()
        for h in rows:
            smoothed, flags = measured[hosts.names[h]]
            # NOTE: guest demand above what the host measured (a guest's
            # CPU demand counts the time it waited) leaves no base load
            base[h] = np.maximum(smoothed * capacity[h] - guests[h], 0.0)
            hot[h] = [r in flags for r in cluster.RESOURCES]
    for h, name in enumerate(hosts.names):
        if name in thresholds:
            own[h] = thresholds[name]
    hosts.base_load, hosts.thresholds, hosts.hot = base, own, hot
