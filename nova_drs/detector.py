# SPDX-License-Identifier: Apache-2.0
"""Hotspot detection with EWMA smoothing and k-of-n persistence.

One detector class serves the agent (one host, one row) and the simulator
(every host, every step), so that a setting means the same in both. The
agent's is the one answer to "is this host hot?" in a live cloud: the
balancer runs none, it keeps each agent's flags
(:mod:`nova_drs.balancer.host_view`).

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

import numpy as np

from nova_drs.model import cluster


class HotspotDetector:
    """Smooth per-host loads and flag persistent hotspots.

    :param thresholds: per-resource thresholds, in the order of
        :data:`nova_drs.model.cluster.RESOURCES`.
    :param alpha: EWMA weight of the newest sample (1.0: no smoothing).
    :param k: how many of the last ``n`` smoothed samples must be above the
        threshold.
    :param n: length of the persistence window.
    """

    def __init__(self, thresholds, alpha=0.5, k=2, n=3):
        thresholds = np.asarray(thresholds, dtype=float)
        if thresholds.shape != (len(cluster.RESOURCES),):
            raise ValueError('one threshold per resource is needed: %s'
                             % ', '.join(cluster.RESOURCES))
        if not 0.0 < alpha <= 1.0:
            raise ValueError('alpha must be in (0, 1], got %r' % alpha)
        if not 1 <= k <= n:
            raise ValueError('persistence needs 1 <= k <= n, got k=%r n=%r'
                             % (k, n))
        self.thresholds = thresholds
        self.alpha = float(alpha)
        self.k = int(k)
        self.n = int(n)
        self._rows = {}
        self._ewma = np.zeros((0, thresholds.size))
        # ring of the last n above/below comparisons per key and resource
        self._history = np.zeros((0, thresholds.size, self.n), dtype=bool)
        self._seen = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_conf(cls, conf):
        return cls(cluster.thresholds_from_conf(conf),
                   alpha=conf.drs.ewma_alpha,
                   k=conf.drs.persistence_count,
                   n=conf.drs.persistence_window)

    def _rows_for(self, keys):
        rows = np.empty(len(keys), dtype=np.int64)
        new = 0
        for pos, key in enumerate(keys):
            row = self._rows.get(key)
            if row is None:
                row = len(self._rows)
                self._rows[key] = row
                new += 1
            rows[pos] = row
        if new:
            width = self.thresholds.size
            self._ewma = np.vstack([self._ewma, np.zeros((new, width))])
            self._history = np.concatenate(
                [self._history, np.zeros((new, width, self.n), dtype=bool)])
            self._seen = np.concatenate(
                [self._seen, np.zeros(new, dtype=np.int64)])
        return rows

    def update(self, keys, loads):
        """Feed one sample per key; return the hot flags after it.

        :param keys: sequence of host names, one per row of ``loads``.
        :param loads: array (len(keys), 4) of loads as shares of capacity.
        :returns: boolean array (len(keys), 4): resource hot on that host.
        """
        loads = np.asarray(loads, dtype=float).reshape(
            len(keys), self.thresholds.size)
        if not np.isfinite(loads).all():
            raise ValueError('loads must be finite numbers')
        rows = self._rows_for(keys)
        first = self._seen[rows] == 0
        ewma = np.where(first[:, None], loads,
                        self.alpha * loads
                        + (1.0 - self.alpha) * self._ewma[rows])
        self._ewma[rows] = ewma
        slot = self._seen[rows] % self.n
        self._history[rows, :, slot] = ewma > self.thresholds
        self._seen[rows] += 1
        return self._history[rows].sum(axis=2) >= self.k

    def smoothed(self, keys):
        """Current smoothed loads for ``keys`` (zeros for unknown keys)."""
        out = np.zeros((len(keys), self.thresholds.size))
        for pos, key in enumerate(keys):
            row = self._rows.get(key)
            if row is not None:
                out[pos] = self._ewma[row]
        return out

    def hot(self, keys):
        """Current hot flags for ``keys`` without feeding a sample."""
        out = np.zeros((len(keys), self.thresholds.size), dtype=bool)
        for pos, key in enumerate(keys):
            row = self._rows.get(key)
            if row is not None:
                out[pos] = self._history[row].sum(axis=1) >= self.k
        return out

    def forget(self, key):
        """Drop a key's state (the host went away); its row is recycled."""
        row = self._rows.pop(key, None)
        if row is None:
            return
        last = len(self._rows)
        if row != last:
            # move the last row into the hole to keep the arrays dense
            moved = next(k for k, r in self._rows.items() if r == last)
            self._rows[moved] = row
            self._ewma[row] = self._ewma[last]
            self._history[row] = self._history[last]
            self._seen[row] = self._seen[last]
        self._ewma = self._ewma[:last]
        self._history = self._history[:last]
        self._seen = self._seen[:last]
