# SPDX-License-Identifier: Apache-2.0
"""Options of the compute-node agent: the ``[drs_agent]`` group.

``nova-drs-agent`` runs on every compute host. It samples the host and its
guests, balloons guest memory (``[drs_balloon]``) and publishes the metrics
as oslo.messaging notifications.
"""

import socket

from oslo_config import cfg

from nova_drs.notifications import schema

agent_group = cfg.OptGroup(
    name='drs_agent',
    title='nova-drs agent options',
    help='How the per-host agent (nova-drs-agent) samples its host and '
         'guests and publishes their metrics.')

AGENT_OPTS = [
    cfg.FloatOpt(
        'interval', default=10.0, min=0.5, max=3600.0,
        help='Seconds between two sampling cycles. Each cycle samples the '
             'host and every guest, resizes balloons and publishes one '
             '``drs.host.metrics`` notification.'),
    cfg.StrOpt(
        'host', default=socket.gethostname(),
        sample_default='<hostname>', regex=schema.HOSTNAME_PATTERN,
        help='Name of this compute host in the notifications. It must be '
             'the name Nova knows the host by (``[DEFAULT] host`` of '
             'nova-compute, the hypervisor hostname by default): 1 to 255 '
             'letters, digits, ``-``, ``.`` and ``_``, as Nova\'s API '
             'accepts host names.'),
    cfg.StrOpt(
        'topic', default='drs_notifications',
        help='oslo.messaging notification topic the metrics are sent to. '
             'With the ``messagingv2`` driver the messages go to the queue '
             '``<topic>.sample``. A topic of its own keeps the metrics out '
             'of Ceilometer\'s ``notifications`` queues.'),
    cfg.IntOpt(
        'partitions', default=0, min=0, max=4096,
        help='Number of intake partitions of the balancers: the metrics '
             'of this host are published to the topic of its partition, '
             '``<topic>.<partitions>.p<n>`` with n a stable hash of '
             '``host`` modulo this number, so that each balancer replica '
             'receives only the hosts it owns. It must be the balancers\' '
             '``[drs_listener] partitions``. 0 (default): publish to '
             '``topic`` itself, the scheme of earlier releases, which '
             'balancers with partitions still read (and forward) during '
             'an upgrade.\n\n'
             'Related options:\n\n'
             '* ``[drs_listener] partitions``'),
    cfg.StrOpt(
        'notification_driver', default='messagingv2',
        choices=[
            ('messagingv2', 'oslo.messaging notifications, message '
                            'format 2.0 (the usual choice)'),
            ('messaging', 'oslo.messaging notifications, message '
                          'format 1.0'),
            ('noop', 'publish nothing'),
        ],
        help='oslo.messaging notification driver used to publish the '
             'metrics. The transport is the one of '
             '``[oslo_messaging_notifications] transport_url`` (or '
             '``[DEFAULT] transport_url``).'),
    cfg.IntOpt(
        'buffer_size', default=360, min=1, max=100000,
        help='Notifications kept while the message broker cannot be '
             'reached (360 is one hour at the default interval). When the '
             'buffer is full the oldest notification is dropped and '
             'counted; memory use stays bounded. Reconnection follows the '
             'transport\'s own settings (``[oslo_messaging_rabbit] '
             'rabbit_retry_interval`` and ``rabbit_interval_max``).'),
    cfg.FloatOpt(
        'libvirt_reconnect_max_interval', default=30.0, min=0.1,
        max=3600.0,
        help='Longest wait in seconds between two attempts to reconnect '
             'to libvirtd after the connection was lost; the wait doubles '
             'from one second after each failure up to this value.'),
    cfg.BoolOpt(
        'hotspot_notifications', default=True,
        help='Also send a ``drs.host.hotspot`` notification whenever the '
             'set of hot resources of this host changes, as found by the '
             'hotspot detector (``[drs]`` thresholds, smoothing and '
             'persistence).'),
    cfg.FloatOpt(
        'disk_bandwidth_mb_s', default=0.0, min=0.0, max=1e6,
        help='Disk bandwidth of this host in MB/s, the capacity against '
             'which its disk load is measured. 0 means not known: the disk '
             'load is then reported but never makes a hotspot.'),
    cfg.FloatOpt(
        'network_bandwidth_mb_s', default=0.0, min=0.0, max=1e6,
        help='Network bandwidth of this host in MB/s, the capacity '
             'against which its network load is measured. 0 means not '
             'known: the network load is then reported but never makes a '
             'hotspot.'),
    cfg.StrOpt(
        'cpu_set', default=None,
        help='Host CPUs over which the host\'s CPU load and CPU count are '
             'measured, in the syntax of Nova\'s ``[compute] '
             'cpu_shared_set``: a comma-separated list of CPU numbers '
             '``N``, ranges ``N-M`` and exclusions ``^N`` or ``^N-M``, '
             'e.g. ``4-12,^8,15``. It should usually be the host\'s '
             '``[compute] cpu_shared_set``, the CPUs the guests run on, '
             'so that host services pinned to other CPUs neither make nor '
             'hide a CPU hotspot. Unset or empty: all CPUs (the aggregate '
             '``cpu`` line of /proc/stat). Every CPU of the set must be '
             'online when the agent starts, otherwise it exits with '
             'status 2; a CPU taken offline later is left out, with a '
             'warning, until it is back.\n\n'
             'Possible values:\n\n'
             '* Unset, or a set of CPU numbers such as ``0-3`` or '
             '``4-12,^8,15``.\n\n'
             'Related options:\n\n'
             '* ``[compute] cpu_shared_set`` (nova.conf)'),
    cfg.StrOpt(
        'signing_key_file',
        help='File holding this host\'s own key for signing its '
             'notifications: 64 hexadecimal digits, written by '
             '``nova-drs-manage signing host-key <host>`` on a node that '
             'has ``[drs_signing] secret``, and readable by the agent '
             'only. With it the agent signs with the host key, which the '
             'balancer derives from the shared secret, so this node can '
             'sign for itself (``host``) only and need not hold the shared '
             'secret. Unset: the agent signs with ``[drs_signing] secret`` '
             'when that is set, and sends unsigned notifications '
             'otherwise. A file that cannot be read or holds no key stops '
             'the agent at start (exit status 2).\n\n'
             'Related options:\n\n'
             '* ``[drs_signing] secret``, ``require_host_keys``'),
    cfg.BoolOpt(
        'nova_metadata', default=False,
        help='Read each guest\'s balloon floor from its server metadata in '
             'Nova (the key ``[drs_balloon] floor_metadata_key``, set with '
             '``openstack server set --property '
             'drs:balloon_floor_mb=2048 SERVER``). The agent lists the '
             'servers of this host (``host``) every '
             '``nova_metadata_interval`` seconds, and looks up at once a '
             'guest it has not seen listed, with the credentials of '
             '``[drs_nova]``: a user with the admin role, or with a role '
             'Nova\'s policy allows to list the servers of all projects '
             'filtered by host (``os_compute_api:servers:detail:'
             'get_all_tenants`` and ``os_compute_api:servers:'
             'allow_all_filters``) and to show any server '
             '(``os_compute_api:servers:show``). A floor in the domain\'s '
             'libvirt metadata takes precedence. While Nova cannot be '
             'reached the last floors read are kept. Off by default: it '
             'costs the agent about 20 MB of memory (keystoneauth1 and '
             'openstacksdk).'),
    cfg.StrOpt(
        'state_path', default='/var/lib/nova-drs',
        help='Directory where the agent keeps what it learns and must not '
             'lose on restart: ``balloon-state.json``, the balloon '
             'policy\'s per-guest demand estimates (``[drs_balloon] '
             'demand_window_s``). Written every ``state_save_interval`` '
             'seconds and when the agent stops, read when it starts. The '
             'directory is created if missing; when it cannot be written '
             'the agent logs a warning and goes on without saving. Empty: '
             'nothing is saved, and each guest\'s estimate starts anew at '
             'every restart.'),
    cfg.IntOpt(
        'state_save_interval', default=300, min=10, max=86400,
        help='Seconds between two saves of the agent\'s state in '
             '``state_path``. A crash loses at most this much history.'),
    cfg.IntOpt(
        'nova_metadata_interval', default=300, min=30, max=86400,
        help='Seconds between two listings of this host\'s servers in '
             'Nova when ``nova_metadata`` is on: a change of a server\'s '
             'balloon floor metadata takes effect within this time.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts, see nova_drs.conf.drs
    group = cfg.OptGroup(agent_group.name, title=agent_group.title,
                         help=agent_group.help)
    conf.register_group(group)
    conf.register_opts(AGENT_OPTS, group=group)


def list_opts():
    return {agent_group: AGENT_OPTS}
