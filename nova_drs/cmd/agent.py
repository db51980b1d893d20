# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-agent``: the compute-node agent.

Run one per compute host::

    nova-drs-agent --config-file /etc/nova/nova.conf \
        --config-file /etc/nova-drs/nova-drs.conf

Options are read from ``[drs_agent]``, ``[drs_balloon]``, ``[drs]``,
``[libvirt] connection_uri`` and the oslo.messaging groups (see
doc/agent.rst). A bad configuration ends with one line on standard error
and exit code 2; a missing libvirt-python with exit code 1.
"""

import sys

from oslo_log import log as logging

from nova_drs import agent
from nova_drs import config

LOG = logging.getLogger(__name__)

#: The option groups (modules of nova_drs.conf) the agent reads; the
#: balancer's Nova client options would only cost memory here.
CONF_GROUPS = ('agent', 'balloon', 'drs', 'libvirt')

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def main(argv=None):
    agent.use_native_threads()
    # NOTE: imported here, after the threading backend is chosen: these
    # modules import oslo.messaging.
    from nova_drs.agent import inspector
    from nova_drs.agent import service

    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = config.load(args=argv, groups=CONF_GROUPS)
    except config.ConfigError as e:
        print('nova-drs-agent: %s' % e, file=sys.stderr)
        return EXIT_USAGE
    logging.setup(conf, 'nova-drs')
    try:
        inspector.LibvirtInspector.check_available()
    except inspector.InspectorError as e:
        LOG.error('%s', e)
        print('nova-drs-agent: %s' % e, file=sys.stderr)
        return EXIT_ERROR
    service.run(conf)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
