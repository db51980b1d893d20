# SPDX-License-Identifier: Apache-2.0
"""Demand estimates that travel with their guests.

A guest live-migrated to another host would start there with no demand
history: the balloon policy on the destination knows only what the
guest uses at that moment, and keeps it (above the flat floor) at that
plus its margin, however much more it needed an hour before on the
source. So the agent writes each guest's estimate (peak demand over the
window, seconds of history behind it, when written) into the guest's
domain metadata (:mod:`.demand_element`), with its rise estimate (the
largest rise of its demand over one cycle within ``rise_window_s``, per
square root of a second, and the seconds behind it): without it the
guest would keep only its margin usable on the destination, its
headroom, until it had risen once there. Nova's live migration sends
the live domain XML (``VIR_DOMAIN_XML_MIGRATABLE``) to the destination,
metadata included; the destination agent, on a guest it has no history
of, starts the history from it:

* aged: the peak counts as seen when the estimate was written, and
  leaves the window when it would have on the source; an estimate
  written more than ``[drs_balloon] demand_metadata_max_age_s`` (or the
  window) ago, or dated in the future by as much (a host clock that is
  off), is not used;
* only ever raising the floor: the policy's floor is the larger of the
  carried peak and what the guest's own samples show, plus the margin,
  never below the flat ``floor`` share, and a per-instance floor wins;
  a guest under pressure grows at once whatever the estimate says;
* the same for the rise: aged alike (it leaves ``rise_window_s`` when
  it would have on the source), and only ever raising the headroom (a
  guest with rises of its own keeps the larger). An element written
  without a rise (an older agent) gives the peak alone.

Written rarely: when the estimate moved by more than ``[drs_balloon]
demand_metadata_change`` of flavor memory since the last write, or
every ``demand_metadata_interval_s`` seconds, whichever comes first,
with at most a few writes per cycle. The rise counts as moved when the
headroom it gives at this agent's interval (the rise times the square
root of the interval, MiB) moved by more than that share of flavor
memory (see :meth:`DemandCarrier._moved`). Each write is two libvirt calls
(the element is read back first, so as to keep the operator's floor)
and an update of the domain's live XML, which libvirtd saves to disk;
with hundreds of guests, writing every cycle would cost more than the
cycle itself, for data needed only when a guest migrates. Never in
``dry_run`` (a dry run changes no guest), never on a guest being
migrated (libvirt would hold the call until the migration ends).

A failed write is logged once per guest and kind of error and retried
at the next refresh; it never stops the sampling or the ballooning.
"""

import math
import time

from oslo_log import log as logging

from nova_drs.agent import inspector as inspector_mod
from nova_drs import balloon
from nova_drs.balloon.policies import adaptive

LOG = logging.getLogger(__name__)

#: writes allowed in a cycle, at least (see DemandCarrier._budget)
MIN_WRITES_PER_CYCLE = 4


class DemandCarrier:
    """Write guests' estimates into their metadata; adopt arriving ones.

    :param conf: configuration (``[drs_balloon]``, ``[drs_agent]``).
    :param inspector: a :class:`.inspector.LibvirtInspector`.
    :param policy: the balloon policy (``guest_estimate``,
        ``adopt_estimate``).
    :param wallclock: Unix time, what the estimates are dated with.
    :param clock: monotonic seconds, for the write cadence.
    :param interval_s: the agent interval (default ``[drs_agent]
        interval``).
    """

    def __init__(self, conf, inspector, policy, wallclock=time.time,
                 clock=time.monotonic, interval_s=None):
        self.group = conf.drs_balloon
        self.interval_s = float(interval_s or adaptive.agent_interval(conf))
        #: MiB of headroom per MiB/sqrt(s) of rise here (see _moved)
        self._sqrt_interval = self.interval_s ** 0.5
        self.inspector = inspector
        self.policy = policy
        self.wallclock = wallclock
        self.clock = clock
        #: uuid -> (peak written, rise written or None, monotonic time of
        #: the write or attempt)
        self._written = {}
        #: guests seen since they appeared (adoption is at first sight)
        self._known = set()
        #: (uuid, kind of error) already logged
        self._failed = set()
        #: estimates written since the start
        self.writes = 0
        #: guests whose history started from their metadata
        self.adopted = set()

    def forget(self, uuids):
        for uuid in uuids:
            self._written.pop(uuid, None)
            self._known.discard(uuid)
            self.adopted.discard(uuid)
        gone = set(uuids)
        if gone:
            self._failed = {f for f in self._failed if f[0] not in gone}

    def _max_age_s(self):
        return min(self.group.demand_metadata_max_age_s,
                   self.group.demand_window_s)

    def adopt(self, guests):
        """Start the history of guests seen for the first time.

        :param guests: :class:`.metrics.GuestMetrics` of the cycle.
        """
        if not self.group.demand_metadata:
            return
        for g in guests:
            if g.uuid in self._known:
                continue
            self._known.add(g.uuid)
            carried = g.sample.config.demand
            if carried is None:
                continue
            age = self.wallclock() - carried.at
            # what this agent (before a restart) or the last host wrote:
            # not worth writing again before the next refresh
            self._written[g.uuid] = (carried.peak_mb,
                                     carried.rise_mb_per_sqrt_s,
                                     self.clock() - max(age, 0.0))
            if self.policy.guest_estimate(g.uuid) is not None:
                # a history of its own here (restored after a restart)
                continue
            max_age = self._max_age_s()
            if max_age <= 0 or not -max_age <= age <= max_age:
                LOG.info('Guest %(name)s (%(uuid)s): the demand estimate '
                         'of its metadata was written %(age).0f s ago, '
                         'not used (trusted up to %(max).0f s)',
                         {'name': g.name, 'uuid': g.uuid, 'age': age,
                          'max': max_age})
                continue
            if self.policy.adopt_estimate(g.uuid, _estimate(carried),
                                          max(age, 0.0)):
                self.adopted.add(g.uuid)
                LOG.info('Guest %(name)s (%(uuid)s): demand history '
                         'started from its metadata: peak %(peak).0f MiB '
                         'over %(history).0f s, rise %(rise)s, written '
                         '%(age).0f s ago',
                         {'name': g.name, 'uuid': g.uuid,
                          'peak': carried.peak_mb,
                          'history': carried.history_s,
                          'rise': _rise_text(carried), 'age': age})

    def _budget(self, count):
        """Writes allowed this cycle among ``count`` guests.

        Twice what refreshing every guest once per interval takes, so
        that the writes of estimates that moved fit too; on an agent's
        first cycles (every guest due) the writes spread over a few
        minutes rather than lengthen one cycle.
        """
        steady = (count * self.interval_s
                  / self.group.demand_metadata_interval_s)
        return max(MIN_WRITES_PER_CYCLE, math.ceil(2.0 * steady))

    def write(self, guests, dry_run=False):
        """Write the estimates that are due.

        :param guests: the running :class:`.metrics.GuestMetrics`.
        :returns: the number of estimates written.
        """
        if dry_run or not self.group.demand_metadata:
            return 0
        now = self.clock()
        change = self.group.demand_metadata_change
        refresh = self.group.demand_metadata_interval_s
        due = []
        for g in guests:
            if g.sample.migrating:
                continue
            estimate = self.policy.guest_estimate(g.uuid)
            if estimate is None:
                continue
            last = self._written.get(g.uuid)
            if last is None:
                due.append((0, 0.0, g, estimate))
                continue
            moved = self._moved(estimate, last, change * g.max_mb)
            if moved or now - last[2] >= refresh:
                # estimates that moved first, then the oldest
                due.append((0 if moved else 1, last[2], g, estimate))
        due.sort(key=lambda d: d[:2])
        written = 0
        for _rank, _at, g, estimate in due[:self._budget(len(guests))]:
            written += self._write(g, estimate, now)
        self.writes += written
        return written

    def _moved(self, estimate, last, threshold_mb):
        """Whether ``estimate`` moved by more than ``threshold_mb``.

        Since ``last`` (what :attr:`_written` holds). The peak is in MiB;
        the rise, in MiB per square root of a second, counts by the
        headroom it gives at this agent's interval (rise x sqrt(interval),
        the MiB a guest is kept usable for it, see the policy's
        ``_headroom``): the same threshold, on what the rise does. No
        rise counts as 0: a rise first learnt is written when its
        headroom is over the threshold, or at the next refresh.
        """
        if abs(estimate.peak_mb - last[0]) > threshold_mb:
            return True
        return (abs((estimate.rise_mb_per_sqrt_s or 0.0) - (last[1] or 0.0))
                * self._sqrt_interval > threshold_mb)

    def _write(self, g, estimate, now):
        try:
            if self.inspector.job_active(g.uuid):
                # a migration started since the sample: libvirt would
                # hold the write until it ends; the next cycle sees it
                return 0
            self.inspector.set_demand_metadata(
                g.uuid, estimate.peak_mb, estimate.history_s,
                self.wallclock(),
                rise_mb_per_sqrt_s=estimate.rise_mb_per_sqrt_s,
                rise_history_s=estimate.rise_history_s)
        except inspector_mod.GuestGone as e:
            LOG.debug('Guest %s went away before its demand estimate was '
                      'written: %s', g.name, e)
            return 0
        except inspector_mod.InspectorError as e:
            # retried at the next refresh, not every cycle: the error is
            # likely to last (a libvirt without metadata, a read-only
            # socket)
            self._written[g.uuid] = (estimate.peak_mb,
                                     estimate.rise_mb_per_sqrt_s, now)
            kind = type(e).__name__
            if (g.uuid, kind) not in self._failed:
                self._failed.add((g.uuid, kind))
                LOG.warning('Guest %(name)s (%(uuid)s): demand estimate not '
                            'written into its metadata (a live migration '
                            'will not carry it): %(error)s',
                            {'name': g.name, 'uuid': g.uuid, 'error': e})
            return 0
        self._written[g.uuid] = (estimate.peak_mb,
                                 estimate.rise_mb_per_sqrt_s, now)
        return 1


def _estimate(carried):
    return balloon.DemandEstimate(
        peak_mb=carried.peak_mb, history_s=carried.history_s,
        rise_mb_per_sqrt_s=carried.rise_mb_per_sqrt_s,
        rise_history_s=carried.rise_history_s)


def _rise_text(carried):
    if carried.rise_mb_per_sqrt_s is None:
        return 'none'
    return '%.1f MiB/sqrt(s) over %.0f s' % (carried.rise_mb_per_sqrt_s,
                                             carried.rise_history_s)
