# SPDX-License-Identifier: Apache-2.0
"""Periodic work: futurist's PeriodicWorker, started and stopped one way.

Every loop of nova-drs that does something every so many seconds (the
agent's cycle and its Nova metadata listing, the balancer's timers, the
executor's scan, the partitioned intake's rebalance, the coordination
heartbeat, the scheduler plugins' refresh) is a :class:`Periodic`: a few
:class:`Task` run by one ``futurist.periodics.PeriodicWorker``.

Threads. The worker's loop runs in a daemon thread named after the
runner and only keeps the schedule; the tasks run one at a time, in the
order they fell due, in one more thread (a one-thread executor). So
:meth:`Periodic.stop` never waits for the task in progress, and
:meth:`Periodic.run_soon` queues urgent work (a hotspot, a poke, a guest
to look up) behind it, never beside it: the tasks of a runner never run
concurrently. futurist's worker cannot be woken early; this is how the
components that used to be woken by an event keep that urgency.

Spacing and overrun. A task runs ``spacing`` seconds after its previous
run *started* (futurist's ``last_started`` strategy), and at once on
start with ``run_immediately``. A run that takes longer than the spacing
is logged, and the next one starts as soon as it ends: one catch-up run,
never a burst.

Failures. A task (or a :meth:`~Periodic.run_soon` call) that raises is
logged with its traceback and runs again at its next time: nothing but
:meth:`~Periodic.stop` ends the runner.

Tests replace :attr:`Periodic.clock`, :attr:`Periodic.condition_class`
and :meth:`Periodic.make_executor` (``tests/unit/fake_time.py``): a fake
clock that the worker's waits advance at once.
"""

import concurrent.futures
# NOTE: imported now rather than at the first executor (concurrent.futures
# imports it lazily): its fork handler must run in a forked child before
# any that starts a runner there (nova_drs.scheduler.state), or submitting
# deadlocks on the lock it held across the fork
from concurrent.futures import thread as futures_thread
import dataclasses
import math
import threading
import time
import typing

from futurist import periodics
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Task:
    """``func()`` every ``spacing`` seconds."""

    func: typing.Callable
    #: seconds from the start of a run to the start of the next
    spacing: float
    #: the first run at start, rather than ``spacing`` seconds later
    run_immediately: bool = False
    #: for the logs (default: the function's qualified name)
    name: str = None

    @property
    def title(self):
        return self.name or _name_of(self.func)


def backoff(failures, spacing, first, cap):
    """After ``failures`` failed runs in a row: (delay, turns to skip).

    The delay is ``first`` seconds doubling with each failure, at most
    ``cap``; a task spaced ``spacing`` seconds backs off by skipping its
    turns until the first one at least that delay after the failed run
    started (futurist's worker cannot be told to wait longer once).
    """
    delay = min(first * 2 ** (failures - 1), cap)
    return delay, math.ceil(delay / spacing) - 1


def _name_of(func):
    return getattr(func, '__qualname__', None) or repr(func)


class Periodic:
    """Run :class:`Task` objects in the background until stopped.

    :param name: the name of the worker's thread (and the executor's
        thread's prefix), and the logs'
    :param tasks: the :class:`Task` objects
    """

    #: the worker's notion of now (monotonic seconds)
    clock = staticmethod(time.monotonic)
    #: what the worker waits on between runs
    condition_class = threading.Condition

    @staticmethod
    def make_executor(name):
        """The executor that runs the tasks: one thread, in order."""
        return futures_thread.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name)

    def __init__(self, name, tasks):
        self.name = name
        self.tasks = tuple(tasks)
        # futurist's periodic callables (a spacing <= 0 raises here)
        self._callables = [self._periodic(task) for task in self.tasks]
        self._lock = threading.Lock()
        # run_soon functions queued and not started yet
        self._queued = set()
        # the futures of run_soon not done yet
        self._pending = set()
        self._stopping = threading.Event()
        # set in the threads while they run a task
        self._inside = threading.local()
        self._clock = None
        self._executor = None
        self._worker = None
        self._thread = None

    def start(self):
        """Start the worker; returns at once (and ``self``)."""
        if self._thread is not None:
            raise RuntimeError('%s: started already' % self.name)
        # one clock for the runner's life (tests replace the default)
        self._clock = self.clock
        self._executor = self.make_executor(self.name)
        self._worker = periodics.PeriodicWorker(
            [(func, None, None) for func in self._callables],
            executor_factory=periodics.ExistingExecutor(self._executor),
            cond_cls=self.condition_class, now_func=self._clock)
        self._thread = threading.Thread(target=self._run, name=self.name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Start no more runs; returns at once.

        The task in progress, if any, goes on to its end: see
        :meth:`wait`.
        """
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop()

    def wait(self, timeout=None):
        """Wait until the threads ended, after :meth:`stop`.

        :param timeout: seconds (None: as long as the running task takes)
        :returns: True when they ended; False at once from a task, which
            cannot wait for itself
        """
        if getattr(self._inside, 'task', False):
            return False
        deadline = None if timeout is None else time.monotonic() + timeout

        def left():
            return (None if deadline is None
                    else max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(left())
            if self._thread.is_alive():
                return False
        with self._lock:
            pending = list(self._pending)
        if pending:
            _, not_done = concurrent.futures.wait(pending, left())
            if not_done:
                return False
        if self._executor is not None:
            # idle by now: its thread ends at once
            self._executor.shutdown(wait=True)
        return True

    @property
    def stopping(self):
        return self._stopping.is_set()

    def running(self):
        """Whether the worker is running and not told to stop."""
        return (self._thread is not None and self._thread.is_alive()
                and not self._stopping.is_set())

    def run_soon(self, func):
        """Call ``func()`` once, after the task in progress.

        From any thread; returns at once. While a call of ``func`` waits
        to start, calling this again adds nothing (the waiting one does
        the work).

        :returns: False when the runner is not running (stopped, or not
            started yet): nothing will be called
        """
        with self._lock:
            executor = self._executor
            if executor is None or self._stopping.is_set():
                return False
            if func in self._queued:
                return True
            self._queued.add(func)
        # NOTE: not under the lock: an executor may run it right here
        try:
            future = executor.submit(self._soon, func)
        except RuntimeError:
            # shut down: the worker ended
            with self._lock:
                self._queued.discard(func)
            return False
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return True

    def _done(self, future):
        with self._lock:
            self._pending.discard(future)

    # -- in the worker's threads -------------------------------------------

    def _run(self):
        try:
            self._worker.start(allow_empty=True)
        except Exception:
            LOG.exception('%s: the periodic worker failed; its tasks no '
                          'longer run', self.name)
        finally:
            self._executor.shutdown(wait=False)

    def _periodic(self, task):
        """``task`` as futurist's periodic callable."""
        @periodics.periodic(task.spacing,
                            run_immediately=task.run_immediately)
        def run():
            if self._stopping.is_set():
                return
            started = self._clock()
            if not self._call(task.title, task.func):
                return
            took = self._clock() - started
            if took > task.spacing:
                # NOTE: futurist starts the next run as soon as this one
                # ended (due spacing seconds after this one started)
                LOG.warning('%(runner)s: %(task)s took %(took).1f s, more '
                            'than its interval (%(spacing)s s): the next '
                            'run starts at once',
                            {'runner': self.name, 'task': task.title,
                             'took': took, 'spacing': task.spacing})
        run.__qualname__ = '%s:%s' % (self.name, task.title)
        return run

    def _soon(self, func):
        with self._lock:
            self._queued.discard(func)
        if not self._stopping.is_set():
            self._call(_name_of(func), func, periodic=False)

    def _call(self, title, func, periodic=True):
        self._inside.task = True
        try:
            func()
        except Exception:
            LOG.exception('%(runner)s: %(task)s failed%(again)s',
                          {'runner': self.name, 'task': title,
                           'again': '; it runs again at its next turn'
                           if periodic else ''})
            return False
        finally:
            self._inside.task = False
        return True
