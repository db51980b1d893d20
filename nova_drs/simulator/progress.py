# SPDX-License-Identifier: Apache-2.0
"""A progress indicator on standard error for runs that take a while.

Nothing is shown during the first :data:`DELAY_S` seconds, so short runs
stay quiet. After that: a bar redrawn in place when the stream is a
terminal, otherwise one plain line each time another 10% is done.
"""

import sys
import time

DELAY_S = 3.0
WIDTH = 30


class Progress:
    def __init__(self, total, stream=None, delay_s=DELAY_S, clock=None):
        self.total = max(int(total), 1)
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay_s
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.done = 0
        self.label = ''
        self.tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self._last_decile = 0
        self._last_draw = 0.0
        self._drawn = False

    def set_label(self, label):
        self.label = label

    def __call__(self, n=1):
        self.done = min(self.done + n, self.total)
        now = self.clock()
        if now - self.started < self.delay:
            return
        share = self.done / self.total
        if self.tty:
            if now - self._last_draw < 0.1 and self.done < self.total:
                return
            self._last_draw = now
            filled = int(WIDTH * share)
            self.stream.write('\rsimulate [%s%s] %3d%% %s ' % (
                '#' * filled, '-' * (WIDTH - filled), int(100 * share),
                self.label))
            self._drawn = True
        else:
            decile = int(10 * share)
            if decile <= self._last_decile:
                return
            self._last_decile = decile
            self.stream.write('simulate: %d%% done (%s, %.0f s)\n' % (
                10 * decile, self.label, now - self.started))
        self.stream.flush()

    def close(self):
        if self.tty and self._drawn:
            self.stream.write('\n')
            self.stream.flush()
