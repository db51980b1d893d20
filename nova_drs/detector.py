# SPDX-License-Identifier: Apache-2.0
"""Hotspot detection with EWMA smoothing and time-based persistence.

One detector class serves the agent (one host, one row) and the simulator
(every host, every agent cycle of simulated time), so that a setting means
the same in both. The agent's is the one answer to "is this host hot?" in
a live cloud: the balancer runs none, it keeps each agent's flags
(:mod:`nova_drs.balancer.view.host_view`).

Every rule is in seconds, not in samples, so that it means the same at any
agent interval. Each sample is the mean load over the ``dt`` seconds
before it (the agent's rates are measured between two readings); for each
tracked key (a host name) and resource the detector keeps

* an exponentially weighted moving average of the load with a half-life
  of ``half_life_s`` seconds: ``ewma = w x sample + (1 - w) x ewma`` with
  ``w = 1 - 2 ** (-dt / half_life_s)`` (the first sample seeds it; a
  half-life of 0 disables smoothing), and
* the comparisons of that average with the resource threshold over the
  last ``window_s`` seconds, each one holding for the ``dt`` seconds of
  its sample.

A resource is *hot* when its smoothed load was above the threshold for at
least ``persistence_s`` of the last ``window_s`` seconds. With the
defaults (half-life 10 s, 20 s of 30 s) at the agent's 10 s interval this
is exactly the former rule (weight 0.5, 2 of the last 3 samples): one
spike, however large, never makes a hotspot on its own. A sample longer
than the window (a simulator stepping 300 s, an agent back from a stall)
fills the window by itself: it is the mean of that long a time.

Real cycles do not last exactly their interval: a cycle late by a few
percent must not turn "2 of 3" into "not quite 20 s". A sample counts as
covering its ``dt`` in full, and the persistence is met when the time
above reaches ``persistence_s`` less :data:`JITTER` of the newest sample's
``dt`` (at most of ``persistence_s``).
"""

import collections
import itertools
import math

from nova_drs.model import resources

#: share of a cycle by which cycles may be early or late without changing
#: a k-of-n style verdict (see the module docstring)
JITTER = 0.1
#: the nominal agent interval when none is given (``[drs_agent] interval``)
DEFAULT_INTERVAL_S = 10.0


def ewma_weight(dt, half_life_s):
    """Weight of a sample that covers ``dt`` seconds, for a half-life.

    ``1 - 2 ** (-dt / half_life_s)``: 0.5 for a sample one half-life
    long; 1 (no smoothing) for a half-life of 0.
    """
    if half_life_s <= 0.0:
        return 1.0
    return 1.0 - 2.0 ** (-dt / half_life_s)


def half_life_from_alpha(alpha, interval_s):
    """The half-life (s) that gives weight ``alpha`` every ``interval_s``.

    The conversion of the deprecated per-sample ``[drs] ewma_alpha``:
    ``alpha`` 1 (no smoothing) gives 0.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError('alpha must be in (0, 1], got %r' % alpha)
    if alpha >= 1.0:
        return 0.0
    return -float(interval_s) / math.log2(1.0 - alpha)


class _KeyState:
    """What the detector keeps for one key."""

    __slots__ = ('ewma', 'history', 'time')

    def __init__(self, ewma):
        self.ewma = ewma
        #: (start, [above per resource]) of the samples that still
        #: overlap the window, oldest first; a sample ends where the next
        #: one starts, the newest at ``time``
        self.history = collections.deque()
        #: the key's own clock: seconds fed so far
        self.time = 0.0


class HotspotDetector:
    """Smooth per-host loads and flag persistent hotspots.

    Plain Python on purpose: the agent feeds it one host (and its guests'
    loads) per cycle and must not load numpy, some 17 MB of its memory
    budget, for that; the simulator feeds it every host and takes numpy
    arrays or nested lists alike.

    :param thresholds: per-resource thresholds, in the order of
        :data:`nova_drs.model.resources.RESOURCES`.
    :param half_life_s: half-life of the EWMA, seconds (0: no smoothing).
    :param persistence_s: seconds, within the last ``window_s``, a
        smoothed load must be above its threshold to be hot.
    :param window_s: length of the persistence window, seconds.
    :param interval_s: the nominal time between two samples: the time a
        sample covers when neither ``dt`` nor a clock says (the first
        sample of a key with a clock), and the unit of ``alpha``, ``k``
        and ``n``.
    :param clock: a function returning seconds (``time.monotonic``, or a
        simulated clock); when given and :meth:`update` has no ``dt``,
        a sample covers the time since the previous update.
    :param alpha: deprecated form of ``half_life_s``: the weight of a
        sample every ``interval_s`` (1.0: no smoothing).
    :param k: deprecated form of ``persistence_s``: samples of
        ``interval_s`` above the threshold.
    :param n: deprecated form of ``window_s``: samples of ``interval_s``.
    """

    def __init__(self, thresholds, half_life_s=10.0, persistence_s=20.0,
                 window_s=30.0, interval_s=DEFAULT_INTERVAL_S, clock=None,
                 alpha=None, k=None, n=None):
        thresholds = tuple(float(t) for t in thresholds)
        if len(thresholds) != len(resources.RESOURCES):
            raise ValueError('one threshold per resource is needed: %s'
                             % ', '.join(resources.RESOURCES))
        interval_s = float(interval_s)
        if not interval_s > 0.0:
            raise ValueError('interval_s must be positive, got %r'
                             % interval_s)
        if alpha is not None:
            half_life_s = half_life_from_alpha(alpha, interval_s)
        if k is not None or n is not None:
            k = 2 if k is None else k
            n = 3 if n is None else n
            if not 1 <= k <= n:
                raise ValueError('persistence needs 1 <= k <= n, got k=%r '
                                 'n=%r' % (k, n))
            persistence_s, window_s = k * interval_s, n * interval_s
        if not half_life_s >= 0.0:
            raise ValueError('half_life_s must be at least 0, got %r'
                             % half_life_s)
        if not 0.0 < persistence_s <= window_s:
            raise ValueError('persistence needs 0 < persistence_s <= '
                             'window_s, got %r and %r'
                             % (persistence_s, window_s))
        #: per-resource thresholds (a tuple of floats)
        self.thresholds = thresholds
        self.half_life_s = float(half_life_s)
        self.persistence_s = float(persistence_s)
        self.window_s = float(window_s)
        self.interval_s = interval_s
        self.clock = clock
        self._last_clock = None
        self._keys = {}

    @classmethod
    def from_conf(cls, conf, clock=None):
        """The detector of ``[drs]`` (deprecated options converted)."""
        half_life_s, persistence_s, window_s = rules_from_conf(conf)
        return cls(resources.thresholds_from_conf(conf),
                   half_life_s=half_life_s, persistence_s=persistence_s,
                   window_s=window_s, interval_s=agent_interval(conf),
                   clock=clock)

    def weight(self, dt):
        """The EWMA weight of a sample covering ``dt`` seconds."""
        return ewma_weight(dt, self.half_life_s)

    def _rows(self, keys, loads):
        """``loads`` as lists of floats, checked before anything changes."""
        if hasattr(loads, 'tolist'):
            # a numpy array: one conversion instead of one per element
            loads = loads.tolist()
        width = len(self.thresholds)
        rows = [list(map(float, row)) for row in loads]
        if len(rows) != len(keys) or any(len(r) != width for r in rows):
            raise ValueError('one row of %d loads per key is needed'
                             % width)
        if not all(map(math.isfinite, itertools.chain.from_iterable(rows))):
            raise ValueError('loads must be finite numbers')
        return rows

    def _elapsed(self, dt):
        if dt is not None:
            dt = float(dt)
            if not (dt >= 0.0 and math.isfinite(dt)):
                raise ValueError('dt must be a finite number >= 0, got %r'
                                 % dt)
            return dt
        if self.clock is None:
            return self.interval_s
        now = self.clock()
        last, self._last_clock = self._last_clock, now
        return self.interval_s if last is None else max(now - last, 0.0)

    def _flags(self, state, dt):
        """Hot flags of ``state`` after a sample of ``dt`` seconds."""
        history = state.history
        now = state.time
        low = now - self.window_s
        # drop the samples that ended before the window
        while len(history) > 1 and history[1][0] <= low:
            history.popleft()
        # NOTE: never more slack than a share of the persistence itself,
        # or a sample longer than it would need nothing above
        need = self.persistence_s - JITTER * min(dt, self.persistence_s)
        above_s = [0.0] * len(self.thresholds)
        end = now
        for start, above in reversed(history):
            covered = end - max(start, low)
            if covered > 0.0:
                for r, a in enumerate(above):
                    if a:
                        above_s[r] += covered
            end = start
        return [s >= need for s in above_s]

    def update(self, keys, loads, dt=None):
        """Feed one sample per key; return the hot flags after it.

        :param keys: sequence of host names, one per row of ``loads``.
        :param loads: (len(keys), 4) loads as shares of capacity, each the
            mean over the ``dt`` seconds before now: a numpy array or a
            sequence of sequences.
        :param dt: seconds the samples cover (since the previous sample);
            None: the time since the previous update by ``clock``, or
            ``interval_s``.
        :returns: one list of 4 booleans per key: resource hot on that
            host.
        :raises ValueError: a row of the wrong length, a load that is not
            a finite number or a bad ``dt`` (nothing is updated then).
        """
        rows = self._rows(keys, loads)
        dt = self._elapsed(dt)
        # NOTE: locals, and no call per key but _flags: the simulator
        # feeds every host of a cluster each cycle
        weight = self.weight(dt)
        rest = 1.0 - weight
        thresholds = self.thresholds
        known = self._keys
        flags = self._flags
        out = []
        for key, row in zip(keys, rows):
            state = known.get(key)
            if state is None:
                # the first sample seeds the average
                state = known[key] = _KeyState(row)
                ewma = row
            else:
                ewma = state.ewma = [weight * x + rest * e
                                     for x, e in zip(row, state.ewma)]
            state.history.append(
                (state.time, [e > t for e, t in zip(ewma, thresholds)]))
            state.time += dt
            out.append(flags(state, dt))
        return out

    def smoothed(self, keys):
        """Current smoothed loads for ``keys`` (zeros for unknown keys)."""
        zeros = [0.0] * len(self.thresholds)
        return [list(s.ewma) if s is not None else list(zeros)
                for s in map(self._keys.get, keys)]

    def hot(self, keys):
        """Current hot flags for ``keys`` without feeding a sample."""
        nothing = [False] * len(self.thresholds)
        out = []
        for state in map(self._keys.get, keys):
            if state is None or not state.history:
                out.append(list(nothing))
                continue
            last = state.time - state.history[-1][0]
            out.append(self._flags(state, last))
        return out

    def forget(self, key):
        """Drop a key's state (the host went away)."""
        self._keys.pop(key, None)


def agent_interval(conf):
    """``[drs_agent] interval`` (the default when it is not registered)."""
    try:
        return float(conf.drs_agent.interval)
    except (AttributeError, KeyError):  # no [drs_agent] group
        return DEFAULT_INTERVAL_S


def rules_from_conf(conf):
    """``(half_life_s, persistence_s, window_s)`` of ``[drs]``.

    The deprecated per-sample options, when set, replace their successors,
    converted with ``[drs_agent] interval`` (the agent's cycle, which is
    what they counted): ``ewma_alpha`` a half-life, ``persistence_count``
    and ``persistence_window`` (2 and 3 when only the other is set)
    seconds.
    """
    drs = conf.drs
    interval = agent_interval(conf)
    half_life = drs.ewma_half_life_s
    if drs.ewma_alpha is not None:
        half_life = half_life_from_alpha(drs.ewma_alpha, interval)
    persistence, window = drs.persistence_s, drs.persistence_window_s
    count, length = drs.persistence_count, drs.persistence_window
    if count is not None or length is not None:
        persistence = (2 if count is None else count) * interval
        window = (3 if length is None else length) * interval
    return half_life, persistence, window
