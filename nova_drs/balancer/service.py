# SPDX-License-Identifier: Apache-2.0
"""nova-drs-balancer as a cotyledon service.

As ``nova-drs-agent``: one child process on native threads; SIGTERM stops
it cleanly (no new plan or migration; migrations in Nova go on and are
taken over at the next start or by another replica), SIGHUP restarts it
with the configuration files read again.
"""

import threading

import cotyledon
from cotyledon import oslo_config_glue
from oslo_log import log as logging

from nova_drs.balancer import manager as manager_mod

LOG = logging.getLogger(__name__)

#: seconds terminate() waits for the running cycle to end
CYCLE_STOP_TIMEOUT = 30.0
#: back-off between attempts to start while a dependency is down
START_RETRY_MIN = 2.0
START_RETRY_MAX = 60.0


class BalancerService(cotyledon.Service):
    """Run :class:`nova_drs.balancer.manager.BalancerManager`."""

    name = 'nova-drs-balancer'

    def __init__(self, worker_id, conf, manager_factory=None):
        super().__init__(worker_id)
        self.conf = conf
        self.manager_factory = manager_factory or manager_mod.BalancerManager
        self.manager = None
        self._stop = threading.Event()
        self._stopped = threading.Event()

    def _start_manager(self):
        """Build and start the manager; retried while its parts are down.

        The database, the broker, the coordination backend or Nova may be
        unreachable when the service starts (a whole control plane
        rebooting): each attempt that fails is logged and retried after a
        growing delay, until it works or the service is stopped.
        """
        delay = START_RETRY_MIN
        while not self._stop.is_set():
            manager = None
            try:
                manager = self.manager_factory(self.conf)
                manager.start()
                return manager
            except Exception as e:
                LOG.error('nova-drs-balancer cannot start (%s); trying '
                          'again in %.0f s', e, delay,
                          exc_info=not isinstance(e,
                                                  manager_mod.ServiceError))
                if manager is not None:
                    try:
                        manager.stop()
                    except Exception:
                        LOG.exception('cleaning up after the failed start')
            self._stop.wait(delay)
            delay = min(delay * 2, START_RETRY_MAX)
        return None

    def run(self):
        try:
            manager = self._start_manager()
            if manager is None:
                return
            self.manager = manager
            manager.run(self._stop)
        finally:
            self._stopped.set()

    def terminate(self):
        LOG.info('nova-drs-balancer stopping')
        self._stop.set()
        if self.manager is None:
            return
        if not self._stopped.wait(CYCLE_STOP_TIMEOUT):
            LOG.warning('the running planning cycle did not end within '
                        '%.0f s', CYCLE_STOP_TIMEOUT)
        self.manager.stop()
        LOG.info('nova-drs-balancer stopped after %d planning cycles',
                 self.manager.cycles)


def run(conf):
    """Run the balancer under a cotyledon ServiceManager until stopped."""
    sm = cotyledon.ServiceManager()
    oslo_config_glue.setup(sm, conf)
    sm.add(BalancerService, workers=1, args=(conf,))
    sm.run()
