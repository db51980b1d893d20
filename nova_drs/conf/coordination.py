# SPDX-License-Identifier: Apache-2.0
"""Options of the balancer replicas' coordination: ``[drs_coordination]``.

Balancer replicas share the compute hosts through a tooz backend (see
``doc/source/balancer.rst``, section "Coordination").
"""

import socket

from oslo_config import cfg

coordination_group = cfg.OptGroup(
    name='drs_coordination',
    title='nova-drs balancer coordination options',
    help='How balancer replicas share the compute hosts (tooz group '
         'membership, consistent hashing) and lock instances and '
         'destination hosts, and how fast the hosts of a replica that '
         'went away are taken over.')

COORDINATION_OPTS = [
    cfg.StrOpt(
        'backend_url', default='file:///var/lib/nova-drs/coordination',
        secret=True,
        help='tooz backend URL shared by all balancer replicas. The '
             'default, a directory, only works for replicas on one node. '
             'For several nodes use ``redis://HOST:6379``, '
             '``etcd3+http://HOST:2379`` or ``zookeeper://HOST:2181``, '
             'and install the backend\'s client library (``redis``, '
             '``etcd3gw``, ``kazoo``), e.g. ``pip install tooz[redis]``. '
             'Timeouts in the URL are replaced by ``member_timeout``.\n\n'
             'Related options:\n\n'
             '* ``[drs_coordination] member_timeout``'),
    cfg.StrOpt(
        'group', default='nova-drs-balancer',
        help='Name of the tooz group the replicas join. Replicas in the '
             'same group share the hosts; use one group per cloud '
             '(region) that shares a backend.'),
    cfg.StrOpt(
        'replica_id', default=None,
        sample_default='<hostname>-<pid>',
        help='Member id of this replica in the group, also its name as '
             'owner of actions in the database. Must be unique among the '
             'replicas; the default, host name and process id, is.'),
    cfg.StrOpt(
        'mode', default='partitioned',
        choices=[
            ('partitioned', 'the replicas share all hosts by consistent '
                            'hashing over the group members; the hosts of '
                            'a replica that went away are taken over by '
                            'the others'),
            ('per_host', 'one replica on each compute host, owning only '
                         'its own host (``[drs_coordination] host``); '
                         'nothing is taken over'),
        ],
        help='How the compute hosts are shared among the replicas. Both '
             'modes lock instances and destination hosts.'),
    cfg.StrOpt(
        'host', default=socket.gethostname(),
        sample_default='<hostname>',
        help='In ``per_host`` mode, the compute host this replica owns: '
             'the name Nova knows the host by (``[DEFAULT] host`` of '
             'nova-compute). Ignored in ``partitioned`` mode.'),
    cfg.FloatOpt(
        'heartbeat_interval', default=1.0, min=0.1, max=5.0,
        help='Seconds between two heartbeats to the backend; each one '
             'also reads the group members. At most a third of '
             '``member_timeout``.\n\n'
             'Related options:\n\n'
             '* ``[drs_coordination] member_timeout``'),
    cfg.IntOpt(
        'member_timeout', default=10, min=2, max=25,
        help='Seconds without a heartbeat after which a replica is gone '
             'from the group. Its hosts are owned by the other replicas '
             'at most ``member_timeout + heartbeat_interval`` seconds '
             'after its last heartbeat (11 s by default, 30 s at most). '
             'A replica that cannot reach the backend for '
             '``member_timeout - heartbeat_interval`` seconds owns no host '
             'until it can again.'),
    cfg.FloatOpt(
        'lock_wait', default=0.0, min=0.0, max=60.0,
        help='Seconds to wait for a per-instance or per-destination lock '
             'held by another replica before giving up. 0 tries once.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(coordination_group.name,
                         title=coordination_group.title,
                         help=coordination_group.help)
    conf.register_group(group)
    conf.register_opts(COORDINATION_OPTS, group=group)


def list_opts():
    return {coordination_group: COORDINATION_OPTS}
