# SPDX-License-Identifier: Apache-2.0
"""The balancer's cached view of Nova, and when to read it again.

Reading Nova and Placement in full costs a few API calls plus one per
compute node (:mod:`nova_drs.balancer.view.nova_view`), too much for every
planning cycle of a large region, and an urgent cycle (a hotspot) must not
wait for it. So the view is kept, kept up to date by Nova's
notifications, and read again:

* in full, first, then every ``[drs_balancer]
  inventory_full_resync_interval`` seconds (a safety net);
* incrementally (what changed since the last read: a number of calls that
  does not depend on the number of compute nodes) when the view is older
  than ``inventory_refresh_interval``, or when a Nova notification
  (:mod:`nova_drs.balancer.intake.nova_events`) that could not be applied as a
  delta, a migration that ended or a membership change said it changed
  (:meth:`Inventory.invalidate`), but not more often than every
  ``inventory_min_interval`` seconds, so a burst of notifications costs
  one read.

Notifications whose payload describes the server as it now is (a server
created, deleted, live-migrated, updated: ``nova_view.DELTA_EVENTS``) are
applied to the view at once (:meth:`Inventory.apply_events`), without a
read.

When Nova cannot be read, the last view is used for at most
``inventory_max_age`` seconds after it was read, with a warning at each
failure; after that :meth:`Inventory.get` raises
:class:`InventoryUnavailable` and the balancer plans nothing: acting on
an old picture of Nova is worse than waiting.
"""

import threading
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: what a failed read of Nova raises
READ_ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)


class InventoryUnavailable(Exception):
    """No view of Nova recent enough to plan with."""


class _Reader:
    """A plain function as a collector that can only read in full."""

    def __init__(self, collect):
        self._collect = collect
        self.last_read = None

    def read(self, full=False):
        return self._collect()

    def apply_events(self, events):
        return list(events)

    def build(self):
        raise RuntimeError('nothing to rebuild')


class Inventory:
    """A NovaView that is read again when due.

    :param collector: a
    :class:`~nova_drs.balancer.view.nova_view.NovaCollector`
        (or an object with its ``read(full)``, ``apply_events(events)``,
        ``build()`` and ``last_read``), or a function called without
        arguments that returns a
        :class:`~nova_drs.balancer.view.nova_view.NovaView` (every read is then
        full and no notification is applied as a delta)
    :param conf: the configuration (``[drs_balancer]`` is read)
    :param clock: monotonic seconds (tests replace it)
    """

    def __init__(self, collector, conf, clock=time.monotonic):
        opts = conf.drs_balancer
        if not hasattr(collector, 'read'):
            collector = _Reader(collector)
        self._collector = collector
        self.refresh_interval = opts.inventory_refresh_interval
        self.full_interval = opts.inventory_full_resync_interval
        self.min_interval = opts.inventory_min_interval
        self.max_age = opts.inventory_max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._view = None
        self._rebuild = False          # deltas applied since the build
        self._read_at = None           # clock time of the last good read
        self._full_at = None           # ... of the last good full read
        self._tried_at = None          # clock time of the last attempt
        self._dirty_reason = None
        # events received while a read held the lock
        self._pending_lock = threading.Lock()
        self._pending = []
        self.reads = 0
        self.full_reads = 0
        self.failures = 0
        #: notifications applied to the view without a read
        self.deltas = 0
        #: what the last good read cost (ReadStats.as_dict()), or None
        self.last_read = None
        #: API calls of every read since the start (the replica's report)
        self.calls = 0

    def invalidate(self, reason):
        """The view is out of date: read Nova again at the next get()."""
        with self._lock:
            if self._dirty_reason is None:
                self._dirty_reason = reason

    def apply_events(self, events):
        """Apply Nova notifications to the view; invalidate for the rest.

        Returns at once while a read is under way (the caller is Nova's
        notification listener): the events are then applied when it ends.

        :param events: :class:`~nova_drs.balancer.intake.nova_events.NovaEvent`
        :returns: how many were applied without a read (0 when they wait
            for the read under way)
        """
        with self._pending_lock:
            self._pending.extend(events)
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return self._apply_pending()
        finally:
            self._lock.release()

    def _apply_pending(self):
        """Apply the events received; with ``_lock`` held."""
        with self._pending_lock:
            events, self._pending = self._pending, []
        if not events:
            return 0
        rest = self._collector.apply_events(events)
        applied = len(events) - len(rest)
        if applied:
            self.deltas += applied
            self._rebuild = self._view is not None
        if rest and self._dirty_reason is None:
            self._dirty_reason = rest[-1].event_type
        return applied

    @property
    def dirty(self):
        return self._dirty_reason is not None

    def age(self):
        """Seconds since the last successful read (None: never)."""
        read_at = self._read_at
        return None if read_at is None else self.clock() - read_at

    def _due(self, now):
        """(why, full) of the read due now, or (None, False)."""
        if self._view is None:
            return 'first read', True
        if now - self._full_at >= self.full_interval:
            return 'full resync', True
        if now - self._read_at >= self.refresh_interval:
            return 'periodic refresh', False
        if self._dirty_reason is not None and (
                self._tried_at is None
                or now - self._tried_at >= self.min_interval):
            return self._dirty_reason, False
        return None, False

    def get(self):
        """The current view, read from Nova first when due.

        :raises InventoryUnavailable: Nova cannot be read and the last
            view is older than ``inventory_max_age`` (or there is none)
        """
        with self._lock:
            # events that arrived during the last read
            self._apply_pending()
            now = self.clock()
            why, full = self._due(now)
            if why is None:
                if self._rebuild:
                    self._view = self._collector.build()
                    self._rebuild = False
                return self._view
            self._tried_at = now
            dirty = self._dirty_reason
            self._dirty_reason = None
            started = time.monotonic()
            try:
                view = self._collector.read(full=full)
            except READ_ERRORS as e:
                self.failures += 1
                # keep the reason: try again after min_interval
                self._dirty_reason = dirty
                return self._fallback(now, e)
            self.reads += 1
            if full:
                self.full_reads += 1
                self._full_at = now
            self._view = view
            self._rebuild = False
            self._read_at = now
            stats = getattr(self._collector, 'last_read', None)
            self.last_read = dict(stats.as_dict(), reason=why) \
                if stats is not None else None
            if self.last_read is not None:
                self.calls += self.last_read.get('total_calls', 0)
            LOG.debug('Nova inventory read (%s, %s): %d hosts, %d '
                      'instances in %.2f s', why,
                      'full' if full else 'incremental',
                      len(view.model.hosts), len(view.model.instances),
                      time.monotonic() - started)
            return view

    def stats(self):
        """Counters for the balancer's status."""
        return {'age_s': self.age(), 'reads': self.reads,
                'full_reads': self.full_reads, 'failures': self.failures,
                'deltas': self.deltas, 'dirty': self.dirty,
                'calls': self.calls, 'last_read': self.last_read}

    def _fallback(self, now, error):
        if self._view is None:
            raise InventoryUnavailable(
                'cannot read Nova and Placement: %s' % error)
        age = now - self._read_at
        if age > self.max_age:
            raise InventoryUnavailable(
                'cannot read Nova and Placement (%s); the last view is '
                '%.0f s old, more than [drs_balancer] inventory_max_age '
                '(%d s)' % (error, age, self.max_age))
        LOG.warning('cannot read Nova and Placement (%s); planning with '
                    'the view read %.0f s ago', error, age)
        return self._view
