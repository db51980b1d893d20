# SPDX-License-Identifier: Apache-2.0
"""How far a compute host's clock is off, judged from its samples.

An agent stamps each sample with its host's clock; the balancer judges
whether a sample is *current* (it may make its host fresh, fire an urgent
event) by how old it looks on arrival: ``stamped_ahead = sampled_at -
(this balancer's wall clock)``, which is the host's clock offset minus the
delivery delay. With both clocks in sync a sample is current when
``-stale_after <= stamped_ahead <= max_clock_skew``, as before. A host
whose clock is minutes off would then never be current (behind: every
sample looks late; ahead: every sample looks forged), and its healthy
data would be lost to the planner. :class:`HostClock` learns such an
offset instead, from the samples themselves, and judges them against it.

Learning, not trusting. A backlog after a broker outage, a replayed or
forged message, and a host whose clock is off all look the same in one
sample. What tells them apart is time on this balancer's own monotonic
clock: a host whose clock is off keeps sending samples that disagree with
this balancer's clock by the same amount, at its agent's interval, for as
long as one cares to watch; a backlog is delivered in a burst and ends
with current samples; a forged sample is one among the host's real ones.
So an offset is adopted only when the samples of a host have disagreed
with every offset known so far, consistently (each within ``stale_after``
of the first), for ``stale_after`` seconds of arrival time: the host is
not current meanwhile (it goes stale, as if its samples were lost), and
is current again from the adopting sample on. A sample that agrees with
this balancer's clock is always judged as before, and forgets a learned
offset (NTP fixed the host's clock). The delivery delay is the smallest
one seen: the learned offset is the largest ``stamped_ahead`` of the
samples that agree with it.

What it cannot tell. A constant delivery delay longer than
``stale_after`` (a queue that never drains) looks like a clock behind by
as much, and is adopted as one: a host's samples are then taken as
current although they are that old. Such a queue is visible in the
broker, and in the listener's ``late`` counts while the offset is
learned.
"""

import dataclasses
import math

#: HostClock.judge verdicts besides CURRENT: the sample disagrees with
#: every offset known (not current), stamped behind or ahead of it
BEHIND = 'behind'
AHEAD = 'ahead'
CURRENT = 'current'


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What one sample's timestamp says, against its host's clock."""

    #: CURRENT, BEHIND or AHEAD
    kind: str
    #: seconds the sample was old on arrival, by its host's clock as
    #: learned (inf when not CURRENT)
    age_s: float
    #: the offset (host clock minus this balancer's) adopted by this
    #: sample, or None when it adopted none
    adopted_s: float = None
    #: seconds the host's samples had disagreed when it was adopted
    confirmed_after_s: float = None


class HostClock:
    """The offset of one host's clock, as its samples show it.

    :param stale_after: ``[drs_listener] stale_after``: how late a current
        sample may be, and how long a new offset must be confirmed
    :param max_clock_skew: ``[drs_listener] max_clock_skew``: how far
        ahead a current sample may be stamped
    """

    __slots__ = ('stale_after', 'max_clock_skew', 'offset',
                 '_since', '_first', '_best')

    def __init__(self, stale_after, max_clock_skew):
        self.stale_after = float(stale_after)
        self.max_clock_skew = float(max_clock_skew)
        #: the learned offset in seconds (host clock minus this
        #: balancer's); None: the clocks agree
        self.offset = None
        self._since = None      # arrival of the first disagreeing sample
        self._first = None      # its stamped_ahead
        self._best = None       # the largest stamped_ahead since then

    def _agrees(self, ahead):
        return -self.stale_after <= ahead <= self.max_clock_skew

    def peek(self, stamped_ahead):
        """The age of a sample, as :meth:`judge` would say, learning nothing.

        For samples that must not teach the offset (hotspot notifications
        come at no steady pace) and for the order checks.
        """
        if self._agrees(stamped_ahead):
            return max(-stamped_ahead, 0.0)
        if self.offset is not None and self._agrees(
                stamped_ahead - self.offset):
            return max(self.offset - stamped_ahead, 0.0)
        return math.inf

    def judge(self, stamped_ahead, received_at):
        """Judge one new sample of the host, and learn from it.

        :param stamped_ahead: its timestamp minus this balancer's wall
            clock at arrival, seconds
        :param received_at: this balancer's monotonic time of its arrival
        :returns: a :class:`Verdict`
        """
        if self._agrees(stamped_ahead):
            # in sync with this balancer: as before any offset was known
            self.offset = self._since = None
            return Verdict(CURRENT, max(-stamped_ahead, 0.0))
        if self.offset is not None and self._agrees(
                stamped_ahead - self.offset):
            self._since = None
            # a smaller delivery delay than seen so far
            self.offset = max(self.offset, stamped_ahead)
            return Verdict(CURRENT, self.offset - stamped_ahead)
        if self._since is None or \
                abs(stamped_ahead - self._first) > self.stale_after:
            # the first disagreeing sample, or one that does not agree
            # with those before it (a burst of a backlog catching up)
            self._since, self._first = received_at, stamped_ahead
            self._best = stamped_ahead
        else:
            self._best = max(self._best, stamped_ahead)
        waited = received_at - self._since
        if waited >= self.stale_after:
            self.offset, self._since = self._best, None
            return Verdict(CURRENT, self.offset - stamped_ahead,
                           adopted_s=self.offset, confirmed_after_s=waited)
        reference = self.offset or 0.0
        return Verdict(AHEAD if stamped_ahead > reference else BEHIND,
                       math.inf)
