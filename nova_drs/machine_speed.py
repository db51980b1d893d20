# SPDX-License-Identifier: Apache-2.0
"""How fast this machine runs right now: the benchmarks' speed factor.

A CI machine is a shared virtual machine: the same commit has measured
0.65x and 1.6x the speed of a quiet developer machine on different runs
(the simulator's day, 23.6 s and 40.7 s and ~65 s for the same work). A
benchmark that compares a CPU time with a fixed target therefore times
this fixed reference workload in the same process, interleaved with what
it measures, and divides its figure by the *machine-speed factor*: the
median reference time over :data:`REFERENCE_BASE_MS`, never below 1.0 (a
faster machine is not credited). Every benchmark that does prints the
factor next to the raw figure, so a reader sees both.

The workload (dicts, JSON with sorted keys, a hash, decoding) is
interpreter-bound work like the agent's cycle, the planner's per-host
bookkeeping and the simulator's per-guest steps; it never changes with
the project's code.
"""

import hashlib
import json
import statistics
import time

#: CPU time (ms) of one :func:`reference_ms` on the CI machine (2-core
#: VM) when it is quiet, measured as the factor is: the median of the
#: reference times *inside* quiet benchmark runs (interleaved with the
#: agent's cycles its caches are colder than in a loop of its own, where
#: it takes 3.7-3.9 ms: a loop's figure would credit every run 10-15 %).
#: Re-measure it when CI moves to other hardware (the ``reference``
#: figure every run prints, on a quiet machine).
REFERENCE_BASE_MS = 4.2


def _reference_payload():
    return [{'uuid': '00000000-0000-4000-8000-%012x' % i, 'cpu': i * 0.001,
             'memory': {'max_mb': 2048.0, 'used_mb': 1000.0 + i / 7.0,
                        'stats': {'k%d' % j: j * 1.25 for j in range(12)}},
             'disk': [round(i / 3.0, 3), round(i / 7.0, 3)]}
            for i in range(200)]


def reference_ms():
    """CPU time (ms) of a fixed workload: the speed of the machine now.

    Building dicts, JSON with sorted keys, a hash and decoding, as the
    agent's cycle does; it never changes with the agent's code.
    """
    start = time.process_time()
    text = json.dumps(_reference_payload(), sort_keys=True)
    hashlib.sha256(text.encode()).hexdigest()
    json.loads(text)
    return (time.process_time() - start) * 1000.0


def reference_times(count):
    """``count`` timings of :func:`reference_ms` in a row, in ms."""
    return [reference_ms() for _ in range(count)]


def speed_factor(reference_times):
    """How much slower than :data:`REFERENCE_BASE_MS` the machine ran.

    The median of the run's reference times (a few slow moments do not
    count), never below 1.0: a faster machine is not credited.
    """
    return max(1.0, statistics.median(reference_times) / REFERENCE_BASE_MS)


def judged_text(judged, measured, factor, digits=1):
    """A time as judged, and as measured when the factor changed it.

    ``'40.0 s'``, or ``'40.0 s (80.0 s measured / machine-speed factor
    2.00)'``: every benchmark that divides by the factor prints both.
    """
    seconds = '%%.%df s' % digits
    text = seconds % judged
    if factor > 1.0:
        text += (' (' + seconds + ' measured / machine-speed factor %.2f)'
                 ) % (measured, factor)
    return text


#: reference runs per :meth:`Sampler.sample` (the fastest counts)
BURST = 3


class Sampler:
    """Times the reference every ``every`` steps of a long run.

    Passed where a run reports its progress (a callable counting steps,
    with ``set_label``, as :class:`nova_drs.simulator.progress.Progress`),
    so that the samples are spread over the whole run, not taken in one
    quiet moment before it. ``spent_s`` is the wall time the samples
    took, to leave out of the run's.
    """

    def __init__(self, every=24):
        self.every = max(int(every), 1)
        self.samples = []
        self.spent_s = 0.0
        self._count = 0

    def set_label(self, label):
        """Progress interface: nothing to show."""

    def sample(self):
        """One sample: the fastest of a short burst.

        Between the steps of a large numpy run the reference's first
        call finds its caches cold: on a quiet machine it then measured
        1.3-1.6x the reference time, which would credit the run for a
        slowness the machine did not have. The fastest of a burst is the
        machine's speed (warm, 3.7-3.9 ms against the 4.2 ms base when
        quiet: no credit; a machine that much slower still shows).
        """
        started = time.perf_counter()
        self.samples.append(min(reference_times(BURST)))
        self.spent_s += time.perf_counter() - started

    def __call__(self, n=1):
        before = self._count // self.every
        self._count += n
        for _ in range(self._count // self.every - before):
            self.sample()

    def factor(self):
        """The factor of the samples so far (1.0 without any)."""
        return speed_factor(self.samples) if self.samples else 1.0
