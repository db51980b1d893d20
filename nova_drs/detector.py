# SPDX-License-Identifier: Apache-2.0
"""Hotspot detection with EWMA smoothing and k-of-n persistence.

One detector class serves the agent (one host, one row) and the simulator
(every host, every step), so that a setting means the same in both. The
agent's is the one answer to "is this host hot?" in a live cloud: the
balancer runs none, it keeps each agent's flags
(:mod:`nova_drs.balancer.view.host_view`).

For each tracked key (a host name) and resource the detector keeps

* an exponentially weighted moving average of the load
  (``ewma = alpha x sample + (1 - alpha) x ewma``; the first sample seeds
  it), and
* the last ``n`` comparisons of that average with the resource threshold.

A resource is *hot* when at least ``k`` of those last ``n`` comparisons
were above the threshold. With the defaults (alpha 0.5, 2 of 3) one spike,
however large, never makes a hotspot on its own: it needs a second sample
above the threshold within three.
"""

import itertools
import math

from nova_drs.model import resources


class _KeyState:
    """What the detector keeps for one key."""

    __slots__ = ('ewma', 'history')

    def __init__(self, ewma):
        self.ewma = ewma
        #: the last n above/below comparisons, oldest first
        self.history = []


class HotspotDetector:
    """Smooth per-host loads and flag persistent hotspots.

    Plain Python on purpose: the agent feeds it one host (and its guests'
    loads) per cycle and must not load numpy, some 17 MB of its memory
    budget, for that; the simulator feeds it every host and takes numpy
    arrays or nested lists alike.

    :param thresholds: per-resource thresholds, in the order of
        :data:`nova_drs.model.resources.RESOURCES`.
    :param alpha: EWMA weight of the newest sample (1.0: no smoothing).
    :param k: how many of the last ``n`` smoothed samples must be above the
        threshold.
    :param n: length of the persistence window.
    """

    def __init__(self, thresholds, alpha=0.5, k=2, n=3):
        thresholds = tuple(float(t) for t in thresholds)
        if len(thresholds) != len(resources.RESOURCES):
            raise ValueError('one threshold per resource is needed: %s'
                             % ', '.join(resources.RESOURCES))
        if not 0.0 < alpha <= 1.0:
            raise ValueError('alpha must be in (0, 1], got %r' % alpha)
        if not 1 <= k <= n:
            raise ValueError('persistence needs 1 <= k <= n, got k=%r n=%r'
                             % (k, n))
        #: per-resource thresholds (a tuple of floats)
        self.thresholds = thresholds
        self.alpha = float(alpha)
        self.k = int(k)
        self.n = int(n)
        self._keys = {}

    @classmethod
    def from_conf(cls, conf):
        return cls(resources.thresholds_from_conf(conf),
                   alpha=conf.drs.ewma_alpha,
                   k=conf.drs.persistence_count,
                   n=conf.drs.persistence_window)

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

    def _flags(self, state):
        return [above >= self.k for above in map(sum, zip(*state.history))]

    def update(self, keys, loads):
        """Feed one sample per key; return the hot flags after it.

        :param keys: sequence of host names, one per row of ``loads``.
        :param loads: (len(keys), 4) loads as shares of capacity: a numpy
            array or a sequence of sequences.
        :returns: one list of 4 booleans per key: resource hot on that
            host.
        :raises ValueError: a row of the wrong length, or a load that is
            not a finite number (nothing is updated then).
        """
        rows = self._rows(keys, loads)
        # NOTE: locals, and no call per key: the agent smooths every
        # guest's loads with this each cycle
        alpha, rest = self.alpha, 1.0 - self.alpha
        thresholds, n, k = self.thresholds, self.n, self.k
        known = self._keys
        out = []
        for key, row in zip(keys, rows):
            state = known.get(key)
            if state is None:
                # the first sample seeds the average
                state = known[key] = _KeyState(row)
                ewma = row
            else:
                ewma = state.ewma = [alpha * x + rest * e
                                     for x, e in zip(row, state.ewma)]
            above = [e > t for e, t in zip(ewma, thresholds)]
            history = state.history
            history.append(above)
            if len(history) > n:
                del history[0]
            if n == 1:
                # one of one: hot when above (k is 1)
                out.append(above[:])
            else:
                out.append([c >= k for c in map(sum, zip(*history))])
        return out

    def smoothed(self, keys):
        """Current smoothed loads for ``keys`` (zeros for unknown keys)."""
        zeros = [0.0] * len(self.thresholds)
        return [list(s.ewma) if s is not None else list(zeros)
                for s in map(self._keys.get, keys)]

    def hot(self, keys):
        """Current hot flags for ``keys`` without feeding a sample."""
        nothing = [False] * len(self.thresholds)
        return [self._flags(s) if s is not None else list(nothing)
                for s in map(self._keys.get, keys)]

    def forget(self, key):
        """Drop a key's state (the host went away)."""
        self._keys.pop(key, None)
