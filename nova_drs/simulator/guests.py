# SPDX-License-Identifier: Apache-2.0
"""Guest memory: working set, page cache, balloon and what the host backs.

Per guest (MiB; ``max`` is the flavor memory):

* ``ws``: the working set, from the trace (or the memory model), at most
  ``max``;
* ``actual``: the balloon size, the memory the guest has; ``max`` until
  the balloon policy sets a target, which applies at once;
* ``cache``: page cache. Linux fills free memory with it: it grows by
  ``cache_growth`` (a share of ``max`` per hour) and never beyond
  ``actual - ws``; it is dropped first when the balloon inflates;
* ``used = min(ws + cache, actual)``: memory the guest has written;
* ``backed``: host memory behind the guest. Without free page reporting a
  page the guest once wrote stays backed until the balloon takes it
  (``backed = min(actual, max(backed, used))``); with free page reporting
  the guest hands free pages back every step (``backed = used``).

The guest reports ``usable = max(actual - ws, 0)`` (MemAvailable: free
memory and page cache) and ``unused = actual - used`` (MemFree). When
``ws > actual`` the guest swaps: it reports ``usable = 0``,
``swap_in_rate = (ws - actual) / interval`` MiB/s and 256 major faults
per MiB swapped in, and the step counts as a *memory-pressure event* for
that guest. What it uses is then ``actual - usable`` plus what it swapped
in: ``ws``, as the agent's policy computes it from a real guest's
statistics.

The same guests are also followed as if no balloon existed (``actual =
max``): the difference in backed memory is the memory ballooning
returned to the hosts, counted per host no further than its RAM
(:meth:`GuestMemory.host_reclaimed`).
"""

import numpy as np

#: Major page faults per MiB swapped in (4 KiB pages).
FAULTS_PER_MB = 256.0
#: MiB of slack before a guest counts as under pressure (float rounding).
PRESSURE_SLACK_MB = 0.5


class GuestMemory:
    """Vectorised memory state of every guest."""

    def __init__(self, max_mb, cache_growth=0.0, free_page_reporting=False):
        self.max_mb = np.asarray(max_mb, dtype=float)
        self.cache_growth = float(cache_growth)
        self.fpr = bool(free_page_reporting)
        n = self.max_mb.size
        self.actual = self.max_mb.copy()
        self.ws = np.zeros(n)
        self.cache = np.zeros(n)
        self.used = np.zeros(n)
        self.backed = None
        # the same guests without a balloon
        self._free_cache = np.zeros(n)
        self._free_backed = None

    def _advance(self, ws, actual, cache, backed, grow):
        cache = np.minimum(cache + grow, np.maximum(actual - ws, 0.0))
        used = np.minimum(ws + cache, actual)
        if backed is None or self.fpr:
            backed = used.copy()
        else:
            backed = np.minimum(np.maximum(backed, used), actual)
        return cache, used, backed

    def observe(self, ws, interval_s):
        """Set the working sets of a new step; return the pressure mask."""
        ws = np.minimum(np.asarray(ws, dtype=float), self.max_mb)
        grow = self.cache_growth * self.max_mb * interval_s / 3600.0
        self.ws = ws
        self.cache, self.used, self.backed = self._advance(
            ws, self.actual, self.cache, self.backed, grow)
        self._free_cache, _used, self._free_backed = self._advance(
            ws, self.max_mb, self._free_cache, self._free_backed, grow)
        self.interval_s = float(interval_s)
        return ws > self.actual + PRESSURE_SLACK_MB

    def set_actual(self, idx, values):
        """Apply balloon targets (MiB) to guests ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        actual = np.clip(np.asarray(values, dtype=float), 0.0,
                         self.max_mb[idx])
        self.actual[idx] = actual
        # inflating the balloon drops page cache first, then takes pages
        self.cache[idx] = np.minimum(
            self.cache[idx], np.maximum(actual - self.ws[idx], 0.0))
        self.used[idx] = np.minimum(self.ws[idx] + self.cache[idx], actual)
        self.backed[idx] = np.minimum(self.backed[idx], actual)
        if self.fpr:
            self.backed[idx] = self.used[idx]

    def switch_off(self, mask):
        """Guests ``mask`` are off: nothing backed, no balloon.

        A guest switched off gives all its memory back to the host, and
        boots again with its full flavor memory (a new domain: a new
        balloon) and an empty page cache.
        """
        mask = np.asarray(mask, dtype=bool)
        for array in (self.cache, self.used, self.backed, self._free_cache,
                      self._free_backed):
            array[mask] = 0.0
        self.actual[mask] = self.max_mb[mask]

    # -- what the guest reports

    def usable(self):
        # NOTE: never below 0, as a guest's MemAvailable: what it wants
        # beyond its balloon it swaps, and reports as swap-in (the
        # policy adds that to what it uses; a negative usable would
        # count it twice)
        return np.maximum(self.actual - self.ws, 0.0)

    def unused(self):
        return np.maximum(self.actual - self.used, 0.0)

    def swap_in_rate(self):
        return np.maximum(self.ws - self.actual, 0.0) / self.interval_s

    def reclaimed(self):
        """Host memory saved by ballooning, per guest (MiB, >= 0)."""
        return np.maximum(self._free_backed - self.backed, 0.0)

    def host_reclaimed(self, host, ram_mb):
        """Host memory saved by ballooning, per host (MiB, >= 0).

        Measured against what the host would have had to back without
        balloons, capped at its RAM ``ram_mb``: what would have been beyond
        it would have been swapped, not held in RAM, so taking it back
        frees no RAM::

            min(backed + reclaimed, ram) - min(backed, ram)

        :param host: host index of every guest.
        """
        ram = np.asarray(ram_mb, dtype=float)
        n = ram.size
        backed = np.bincount(host, weights=self.backed, minlength=n)
        without = backed + np.bincount(host, weights=self.reclaimed(),
                                       minlength=n)
        return np.minimum(without, ram) - np.minimum(backed, ram)
