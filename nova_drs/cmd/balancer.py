# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-balancer``: plans and carries out live migrations.

Run one or more replicas (they share the hosts through
``[drs_coordination]``)::

    nova-drs-balancer --config-file /etc/nova/nova.conf \
        --config-file /etc/nova-drs/nova-drs.conf

Before the service starts, the configuration, the Nova credentials'
settings and the database schema are checked: a problem ends with one line
on standard error and exit code 2, without traceback (``--debug`` logs
it). See doc/source/balancer.rst.
"""

import sys

from oslo_log import log as logging

from nova_drs import agent
from nova_drs import config

LOG = logging.getLogger(__name__)

PROG = 'nova-drs-balancer'
#: The option groups (modules of nova_drs.conf) the balancer reads.
CONF_GROUPS = ('actuator', 'balancer', 'coordination', 'database', 'drs',
               'listener', 'nova', 'placement', 'signing')

EXIT_OK = 0
EXIT_USAGE = 2


def _schema_revision(conf):
    from nova_drs.db import migration
    return migration.version(conf), migration.head()


def check(conf):
    """Everything that would stop the service at once, as ConfigError."""
    from nova_drs.balancer import clients
    from nova_drs.balancer.planning import planner
    from nova_drs.cmd import manage
    from nova_drs.conf import actuator as actuator_conf

    try:
        planner.check_conf(conf)
        actuator_conf.check(conf)
        clients.load_session(conf)
    except (ValueError, clients.ClientConfigError) as e:
        # PlannerConfigError is a ValueError, as the actuator's check's
        raise config.ConfigError(str(e))
    try:
        current, head = manage._run(conf, 'reading the schema revision',
                                    _schema_revision)
    except manage.CommandError as e:
        raise config.ConfigError(str(e))
    if current != head:
        raise config.ConfigError(
            'the database is at schema revision %s, this nova-drs needs %s: '
            'run nova-drs-manage db sync' % (current or 'none', head))


def main(argv=None):
    agent.use_native_threads()
    # NOTE: imported after the threading backend is chosen: the service
    # imports oslo.messaging.
    from nova_drs.balancer import service

    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = config.load(args=argv, groups=CONF_GROUPS)
        logging.setup(conf, 'nova-drs')
        check(conf)
    except config.ConfigError as e:
        LOG.debug('startup check failed', exc_info=True)
        print('%s: %s' % (PROG, e), file=sys.stderr)
        return EXIT_USAGE
    service.run(conf)
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
