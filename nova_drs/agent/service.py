# SPDX-License-Identifier: Apache-2.0
"""nova-drs-agent as a cotyledon service.

cotyledon (as in ceilometer's polling agent) runs the agent in a child
process on native threads: SIGTERM stops it cleanly (the current cycle
ends, buffered notifications are flushed for a few seconds, the libvirt
connection is closed), SIGHUP restarts it with the configuration files
read again.
"""

import threading

import cotyledon
from cotyledon import oslo_config_glue
from oslo_log import log as logging

from nova_drs.agent import manager as manager_mod

LOG = logging.getLogger(__name__)

#: seconds terminate() waits for the running cycle to end
CYCLE_STOP_TIMEOUT = 30.0


class AgentService(cotyledon.Service):
    """Run :class:`nova_drs.agent.manager.AgentManager` until terminated."""

    name = 'nova-drs-agent'

    def __init__(self, worker_id, conf, manager_factory=None):
        super().__init__(worker_id)
        self.conf = conf
        self.manager_factory = manager_factory or manager_mod.AgentManager
        self.manager = None
        self._stop = threading.Event()
        self._stopped = threading.Event()

    def run(self):
        try:
            if self._stop.is_set():
                return
            self.manager = self.manager_factory(self.conf)
            self.manager.start()
            LOG.info('nova-drs-agent started on host %(host)s, every '
                     '%(interval)s s', {'host': self.conf.drs_agent.host,
                                        'interval': self.manager.interval})
            self.manager.run(self._stop)
        finally:
            self._stopped.set()

    def terminate(self):
        LOG.info('nova-drs-agent stopping')
        self._stop.set()
        if self.manager is None:
            return
        if not self._stopped.wait(CYCLE_STOP_TIMEOUT):
            LOG.warning('The running cycle did not end within %.0f s',
                        CYCLE_STOP_TIMEOUT)
        self.manager.stop()
        LOG.info('nova-drs-agent stopped after %d cycles',
                 self.manager.cycles)


def run(conf):
    """Run the agent under a cotyledon ServiceManager until stopped."""
    sm = cotyledon.ServiceManager()
    oslo_config_glue.setup(sm, conf)
    sm.add(AgentService, workers=1, args=(conf,))
    sm.run()
