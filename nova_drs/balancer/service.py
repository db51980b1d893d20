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
import tenacity

from nova_drs.balancer import manager as manager_mod
from nova_drs import retry_policy

LOG = logging.getLogger(__name__)

#: seconds terminate() waits for the running cycle to end
CYCLE_STOP_TIMEOUT = 30.0
#: back-off between attempts to start while a dependency is down
START_RETRY_MIN = 2.0
START_RETRY_MAX = 60.0


def start_policy(stop_event):
    """Starting the manager: tried until it works or ``stop_event`` is set.

    Waits of :data:`START_RETRY_MIN` seconds doubling up to
    :data:`START_RETRY_MAX` (jittered), cut short by ``stop_event``; every
    failure is logged (an error, with the traceback unless it is a
    :class:`~nova_drs.balancer.manager.ServiceError`).
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Exception),
        stop=tenacity.stop_when_event_set(stop_event),
        wait=retry_policy.backoff(START_RETRY_MIN, START_RETRY_MAX),
        sleep=stop_event.wait,
        before_sleep=_log_failed_start,
        # stopped while failing: no manager
        retry_error_callback=lambda retry_state: None)


def _log_failed_start(retry_state):
    e = retry_state.outcome.exception()
    LOG.error('nova-drs-balancer cannot start (%s); trying again in %.0f s',
              e, retry_policy.next_wait(retry_state),
              exc_info=(e if not isinstance(e, manager_mod.ServiceError)
                        else False))


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
        return start_policy(self._stop)(self._try_start)

    def _try_start(self):
        if self._stop.is_set():
            # stopped during a wait of the start policy
            return None
        manager = None
        try:
            manager = self.manager_factory(self.conf)
            manager.start()
            return manager
        except Exception:
            if manager is not None:
                try:
                    manager.stop()
                except Exception:
                    LOG.exception('cleaning up after the failed start')
            raise

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
