# SPDX-License-Identifier: Apache-2.0
"""A progress indicator on standard error for runs that take a while.

Nothing is shown during the first :data:`DELAY_S` seconds, so short runs
stay quiet. After that, on a terminal: a tqdm bar with the rate and the
time left; otherwise (a log, CI): one plain line each time another 10% is
done, with the time spent and the time left, so that logs stay readable.
"""

import sys
import time

import tqdm

DELAY_S = 3.0


class Progress:
    """Counts steps of work; ``set_label`` names what runs now."""

    def __init__(self, total, stream=None, delay_s=DELAY_S, clock=None,
                 desc='simulate'):
        self.total = max(int(total), 1)
        self.desc = desc
        #: what the runs labelled belong to (a day and size, say)
        self.context = ''
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay_s
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.done = 0
        self.label = ''
        self.tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self._last_decile = 0
        self._bar = None
        if self.tty:
            self._bar = tqdm.tqdm(
                total=self.total, file=self.stream, desc=desc,
                unit='step', delay=delay_s, mininterval=0.1, leave=True,
                dynamic_ncols=True)

    def set_label(self, label):
        self.label = label
        if self._bar is not None:
            self._bar.set_postfix_str(self._what(), refresh=False)

    def set_context(self, context):
        self.context = context
        self.set_label(self.label)

    def _what(self):
        return ('%s: %s' % (self.context, self.label) if self.context
                else self.label)

    def __call__(self, n=1):
        n = min(n, self.total - self.done)
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        elapsed = now - self.started
        if elapsed < self.delay:
            return
        share = self.done / self.total
        decile = int(10 * share)
        if decile <= self._last_decile:
            return
        self._last_decile = decile
        left = elapsed * (1 - share) / share
        self.stream.write('%s: %d%% done (%s, %.0f s, about %.0f s '
                          'left)\n' % (self.desc, 10 * decile, self._what(),
                                       elapsed, left))
        self.stream.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
