# SPDX-License-Identifier: Apache-2.0
"""The balancer's cached view of Nova, and when to read it again.

Reading Nova and Placement costs a dozen API calls plus one per compute
node (:mod:`nova_drs.balancer.nova_view`), too much for every planning
cycle of a large region, and an urgent cycle (a hotspot) must not wait
for it. So the view is kept and read again:

* when it is older than ``[drs_balancer] inventory_refresh_interval``;
* when a Nova notification (:mod:`nova_drs.balancer.nova_events`), a
  migration that ended or a membership change said it changed
  (:meth:`Inventory.invalidate`), but not more often than every
  ``inventory_min_interval`` seconds, so a burst of notifications costs
  one read.

When Nova cannot be read, the last view is used for at most
``inventory_max_age`` seconds after it was read, with a warning at each
failure; after that :meth:`Inventory.get` raises
:class:`InventoryUnavailable` and the balancer plans nothing: acting on
an old picture of Nova is worse than waiting.
"""

import logging
import threading
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

LOG = logging.getLogger(__name__)

#: what a failed read of Nova raises
READ_ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)


class InventoryUnavailable(Exception):
    """No view of Nova recent enough to plan with."""


class Inventory:
    """A NovaView that is read again when due.

    :param collect: called without arguments, returns a
        :class:`~nova_drs.balancer.nova_view.NovaView`
    :param conf: the configuration (``[drs_balancer]`` is read)
    :param clock: monotonic seconds (tests replace it)
    """

    def __init__(self, collect, conf, clock=time.monotonic):
        opts = conf.drs_balancer
        self._collect = collect
        self.refresh_interval = opts.inventory_refresh_interval
        self.min_interval = opts.inventory_min_interval
        self.max_age = opts.inventory_max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._view = None
        self._read_at = None           # clock time of the last good read
        self._tried_at = None          # clock time of the last attempt
        self._dirty_reason = None
        self.reads = 0
        self.failures = 0

    def invalidate(self, reason):
        """The view is out of date: read Nova again at the next get()."""
        with self._lock:
            if self._dirty_reason is None:
                self._dirty_reason = reason

    @property
    def dirty(self):
        return self._dirty_reason is not None

    def age(self):
        """Seconds since the last successful read (None: never)."""
        read_at = self._read_at
        return None if read_at is None else self.clock() - read_at

    def _due(self, now):
        if self._view is None:
            return 'first read'
        if now - self._read_at >= self.refresh_interval:
            return 'periodic refresh'
        if self._dirty_reason is not None and (
                self._tried_at is None
                or now - self._tried_at >= self.min_interval):
            return self._dirty_reason
        return None

    def get(self):
        """The current view, read from Nova first when due.

        :raises InventoryUnavailable: Nova cannot be read and the last
            view is older than ``inventory_max_age`` (or there is none)
        """
        with self._lock:
            now = self.clock()
            why = self._due(now)
            if why is None:
                return self._view
            self._tried_at = now
            dirty = self._dirty_reason
            self._dirty_reason = None
            started = time.monotonic()
            try:
                view = self._collect()
            except READ_ERRORS as e:
                self.failures += 1
                # keep the reason: try again after min_interval
                self._dirty_reason = dirty
                return self._fallback(now, e)
            self.reads += 1
            self._view = view
            self._read_at = now
            LOG.debug('Nova inventory read (%s): %d hosts, %d instances '
                      'in %.2f s', why, len(view.model.hosts),
                      len(view.model.instances),
                      time.monotonic() - started)
            return view

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
