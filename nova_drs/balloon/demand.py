# SPDX-License-Identifier: Apache-2.0
"""Per-guest working-set estimate: what each guest has needed lately.

A guest's *demand* at one cycle is the memory it uses and cannot give
without swapping: its balloon size less its usable memory (MemAvailable),
plus what it swapped in since the last cycle (memory it wanted and did
not have). Its *estimate* is the peak demand over the last ``window_s``
seconds.

The peak is kept in :data:`BUCKETS` time buckets of ``window_s /
BUCKETS`` seconds, each holding the largest demand seen in it; a bucket
older than the window is dropped. That is a few floats per guest and a
handful of operations per cycle whatever the window (a sorted deque of
every sample would cost memory in proportion to window / interval), at
the price of a window that is up to one bucket longer than asked.

Times come from the caller's clock (monotonic seconds). The state is
exported with ages rather than clock readings, so that it can be saved,
and read back after a restart, when the monotonic clock starts anew.
"""

#: time buckets of a window
BUCKETS = 12


class DemandTracker:
    """Peak demand of every guest over a sliding window.

    :param window_s: length of the window, seconds.
    """

    def __init__(self, window_s):
        self.window_s = window_s
        #: guest name -> list of [bucket start (clock s), peak MiB]
        self._buckets = {}
        #: guest name -> peak of its buckets but the last (kept so that
        #: the peak costs one comparison, not a walk of the buckets)
        self._closed = {}

    @property
    def window_s(self):
        return self._window_s

    @window_s.setter
    def window_s(self, value):
        self._window_s = float(value)
        # read every cycle for every guest: computed once
        self._span = max(self._window_s / BUCKETS, 1e-9)

    def add(self, name, now, demand_mb):
        """Record ``demand_mb`` for guest ``name`` at clock time ``now``."""
        buckets = self._buckets.get(name)
        if buckets is None:
            self._buckets[name] = [[now, demand_mb]]
            self._closed[name] = 0.0
            return
        last = buckets[-1]
        if now - last[0] < self._span:
            if demand_mb > last[1]:
                last[1] = demand_mb
            return
        buckets.append([now, demand_mb])
        # drop the buckets that ended before the window began
        horizon = now - self._window_s - self._span
        if buckets[0][0] < horizon:
            while len(buckets) > 1 and buckets[0][0] < horizon:
                del buckets[0]
            self._closed[name] = max(b[1] for b in buckets[:-1]) \
                if len(buckets) > 1 else 0.0
        elif last[1] > self._closed[name]:
            self._closed[name] = last[1]

    def peak(self, name):
        """Peak demand of ``name`` over the window (MiB), None if unknown."""
        buckets = self._buckets.get(name)
        if not buckets:
            return None
        last = buckets[-1][1]
        closed = self._closed[name]
        return closed if closed > last else last

    def history_s(self, name, now):
        """Seconds of history behind the estimate of ``name``."""
        buckets = self._buckets.get(name)
        if not buckets:
            return 0.0
        return now - buckets[0][0]

    def seed(self, name, now, peak_mb, history_s, age_s):
        """Start the history of ``name`` from an estimate made elsewhere.

        The estimate was made ``age_s`` seconds ago from ``history_s``
        seconds of samples. When in those seconds the peak was seen is
        not known: it is taken as seen when the estimate was made, the
        latest it can have been, so that it stays in the window as long
        as it would have on the host that saw it. The history older than
        the window is discarded, and so is the whole estimate when it
        was made before the window began.

        Returns False (and changes nothing) when ``name`` has a history
        already, or when the estimate is out of the window.
        """
        if name in self._buckets or not 0.0 <= age_s <= self._window_s:
            return False
        made = now - age_s
        oldest = max(made - max(history_s, 0.0), now - self._window_s)
        # the oldest bucket holds the peak too (the peak bounds every
        # part of the history) and says how far back the history goes;
        # one starting when the estimate was made keeps the peak in the
        # window for as long (a single bucket less than a bucket's span
        # older does so by itself)
        rows = [[oldest, peak_mb]]
        if made - oldest >= self._span:
            rows.append([made, peak_mb])
        self._buckets[name] = rows
        self._closed[name] = peak_mb if len(rows) > 1 else 0.0
        return True

    def merge(self, name, now, peak_mb, history_s, age_s):
        """Add an estimate made elsewhere to the history of ``name``.

        As :meth:`seed` when ``name`` has no history; otherwise the
        estimate only ever raises it: the peak counts as seen when the
        estimate was made (in the bucket holding that time, or a new one
        there), and the history reaches as far back as the longer of the
        two. So the peak over the window is the larger of the guest's
        own and the carried one, for as long as each stays in it.

        Returns False (and changes nothing) when the estimate is out of
        the window.
        """
        buckets = self._buckets.get(name)
        if buckets is None:
            return self.seed(name, now, peak_mb, history_s, age_s)
        if not 0.0 <= age_s <= self._window_s:
            return False
        made = now - age_s
        oldest = max(made - max(history_s, 0.0), now - self._window_s)
        if oldest < buckets[0][0]:
            # the peak bounds every part of the history (as in seed)
            buckets.insert(0, [oldest, peak_mb])
        # the last bucket that starts at or before the time it was made
        # (the first one does now: it is at most ``oldest``)
        index = max(i for i, b in enumerate(buckets) if b[0] <= made)
        bucket = buckets[index]
        if made - bucket[0] < self._span:
            if peak_mb > bucket[1]:
                bucket[1] = peak_mb
        else:
            # a bucket of its own (the last one, when made after the last
            # bucket's span: add() goes on from it)
            buckets.insert(index + 1, [made, peak_mb])
        self._closed[name] = max([b[1] for b in buckets[:-1]],
                                 default=0.0)
        return True

    def forget(self, name):
        self._buckets.pop(name, None)
        self._closed.pop(name, None)

    def names(self):
        return list(self._buckets)

    # -- saving and restoring

    def export(self, now):
        """The estimates as plain data: name -> [[age s, peak MiB], ...]."""
        return {name: [[round(now - start, 1), round(peak, 1)]
                       for start, peak in buckets]
                for name, buckets in self._buckets.items()}

    def restore(self, data, now, elapsed_s=0.0):
        """Load :meth:`export` output saved ``elapsed_s`` seconds ago.

        Malformed entries are skipped (the file may have been edited or
        cut short); returns the number of guests restored.
        """
        restored = 0
        if not isinstance(data, dict):
            return restored
        for name, buckets in data.items():
            try:
                rows = [[now - float(age) - elapsed_s, float(peak)]
                        for age, peak in buckets]
            except (TypeError, ValueError):
                continue
            rows = [r for r in rows
                    if r[0] >= now - self.window_s - self._span
                    and r[1] >= 0.0]
            if rows and isinstance(name, str):
                rows.sort()
                self._buckets[name] = rows
                self._closed[name] = max([r[1] for r in rows[:-1]],
                                         default=0.0)
                restored += 1
        return restored
