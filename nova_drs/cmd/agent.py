# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-agent``: the compute-node agent.

Run one per compute host::

    nova-drs-agent --config-file /etc/nova/nova.conf \
        --config-file /etc/nova-drs/nova-drs.conf

Options are read from ``[drs_agent]``, ``[drs_balloon]``, ``[drs]``,
``[drs_signing]``, ``[libvirt] connection_uri``, the oslo.messaging groups
and, only with ``[drs_agent] nova_metadata``, ``[drs_nova]`` (see
doc/source/agent.rst). A bad configuration (including a ``[drs_agent] cpu_set``
with CPUs this host does not have online, or a ``[drs_agent]
signing_key_file`` without a key) ends with one line on standard error and
exit code 2; a missing libvirt-python with exit code 1.
"""

import sys

from oslo_log import log as logging

from nova_drs import agent
from nova_drs import config

LOG = logging.getLogger(__name__)

#: The option groups (modules of nova_drs.conf) the agent reads; the
#: balancer's Nova client options would only cost memory here. ``nova``
#: ([drs_nova]) is registered after the files are read, and only when
#: [drs_agent] nova_metadata is on: it imports keystoneauth1 (6 MB).
CONF_GROUPS = ('agent', 'balloon', 'drs', 'libvirt', 'signing')

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def check_nova_metadata(conf):
    """Register and check ``[drs_nova]`` for ``[drs_agent] nova_metadata``.

    :raises nova_drs.config.ConfigError: a bad value, or no usable auth
        plugin.
    """
    from nova_drs.agent import nova_metadata
    nova_metadata.register_opts(conf)
    config.check(conf)
    try:
        nova_metadata.check_conf(conf)
    except nova_metadata.ConfigError as e:
        raise config.ConfigError(str(e))
    # the auth plugin's own options are registered now
    config.check(conf)


def check_cpu_set(conf):
    """Check ``[drs_agent] cpu_set`` against this host's /proc/stat.

    :raises nova_drs.config.ConfigError: a malformed value, or CPUs that
        are not online.
    """
    from nova_drs.agent import hoststats
    try:
        hoststats.HostStatsReader.from_conf(conf)
    except ValueError as e:
        raise config.ConfigError(str(e))


def check_signing_key(conf):
    """Check ``[drs_agent] signing_key_file`` holds a key.

    :raises nova_drs.config.ConfigError: unreadable, or not a key.
    """
    if not conf.drs_agent.signing_key_file:
        return
    from nova_drs.notifications import signing
    try:
        signing.read_key_file(conf.drs_agent.signing_key_file)
    except signing.KeyFileError as e:
        raise config.ConfigError(str(e))


def main(argv=None):
    agent.use_native_threads()
    # NOTE: imported here, after the threading backend is chosen: these
    # modules import oslo.messaging.
    from nova_drs.agent import inspector
    from nova_drs.agent import service

    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = config.load(args=argv, groups=CONF_GROUPS)
        check_cpu_set(conf)
        check_signing_key(conf)
        if conf.drs_agent.nova_metadata:
            check_nova_metadata(conf)
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
