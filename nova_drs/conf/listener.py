# SPDX-License-Identifier: Apache-2.0
"""Options of the balancer's metrics intake: the ``[drs_listener]`` group.

The balancer reads the agents' ``drs.host.metrics`` and ``drs.host.hotspot``
notifications (see ``doc/source/metrics-payload.rst``) with an oslo.messaging
batch notification listener and keeps the latest metrics of every host
(``nova_drs.balancer.intake.listener`` and
``nova_drs.balancer.view.host_view``). The ``nova_*`` options are for the
second intake, Nova's versioned notifications, which tell the balancer when its
inventory of Nova is out of date (``nova_drs.balancer.intake.nova_events``,
``doc/source/nova-events.rst``).
"""

from oslo_config import cfg

listener_group = cfg.OptGroup(
    name='drs_listener',
    title='nova-drs balancer notification intake options',
    help='How the balancer receives the agents\' metrics notifications and '
         'when it stops trusting a host that no longer reports, and how it '
         'reads Nova\'s versioned notifications.')

LISTENER_OPTS = [
    cfg.StrOpt(
        'topic', default='drs_notifications',
        help='oslo.messaging notification topic the agents publish to. It '
             'must be the agents\' ``[drs_agent] topic``. The notifications '
             'are read from the transport of ``[oslo_messaging_notifications]'
             ' transport_url`` (or ``[DEFAULT] transport_url``), exchange '
             '``[DEFAULT] control_exchange``.\n\n'
             'Related options:\n\n'
             '* ``[drs_agent] topic``'),
    cfg.StrOpt(
        'pool',
        help='Listener pool, which with RabbitMQ is the name of the queue '
             'this balancer reads. Listeners in the same pool share the '
             'messages, listeners in different pools each get all of them.'
             '\n\n'
             'Possible values:\n\n'
             '* Unset (default): a single balancer reads the agents\' '
             'default queue ``<topic>.sample``; a balancer running as one of '
             'several replicas reads its own pool ``drs-balancer-<replica '
             'id>``, so that every replica sees the metrics of every host '
             'whatever share of the hosts it owns at the moment.\n'
             '* A name: read that pool. Replicas given the same name split '
             'the messages between them, each seeing only some of the '
             'hosts\' metrics: do that only for active/passive replicas.\n\n'
             'A pooled queue outlives its listener (messages sent while the '
             'balancer restarts wait in it), so pool names must be stable '
             'across restarts; see ``doc/source/balancer.rst`` for the broker '
             'policy that removes the queue of a replica taken out of '
             'service.\n\n'
             'Related options:\n\n'
             '* ``[drs_listener] drain_default_queue``'),
    cfg.IntOpt(
        'partitions', default=0, min=0, max=4096,
        help='Number of intake partitions (partitioned intake, '
             '``doc/source/balancer.rst``). With N > 0 each agent publishes '
             'to '
             'the topic of its host\'s partition (``[drs_agent] '
             'partitions``, which must be the same N), the replicas share '
             'the N partitions on their hash ring, and each replica reads '
             'only the partitions it owns, hence the metrics of its own '
             'hosts only: a host belongs to the owner of its partition. '
             'Membership changes move whole partitions; their queues keep '
             'what arrives meanwhile, so nothing is lost. Choose N much '
             'larger than the number of replicas (64 for up to about 16 '
             'replicas) and keep it fixed: changing it re-shards every '
             'host. 0 (default): every replica reads every host\'s '
             'metrics (``pool``).\n\n'
             'Related options:\n\n'
             '* ``[drs_agent] partitions``\n'
             '* ``[drs_coordination] mode`` (``partitioned``)'),
    cfg.BoolOpt(
        'drain_default_queue', default=True,
        help='When this balancer reads a pool, also read the agents\' '
             'default queue ``<topic>.sample`` and discard what is in it. '
             'Every agent declares that queue so that no metrics are lost '
             'before a consumer exists; with every balancer reading its own '
             'pool nothing else would empty it and it would grow without '
             'bound (oslo.messaging asks every application that uses pools '
             'to keep one listener on the non-pooled queue). Turn off only '
             'when another consumer reads that queue.'),
    cfg.IntOpt(
        'batch_size', default=64, min=1, max=10000,
        help='Largest number of notifications handed over to the host view '
             'at once. Larger batches cost less per message when many hosts '
             'report at the same time.\n\n'
             'Related options:\n\n'
             '* ``[drs_listener] batch_timeout``'),
    cfg.FloatOpt(
        'batch_timeout', default=0.25, min=0.01, max=10.0,
        help='Longest time in seconds a notification waits for its batch to '
             'fill before the batch is handed over. It bounds the delay '
             'between a ``drs.host.hotspot`` notification reaching the '
             'broker and the balancer acting on it; while nothing arrives '
             'the listener wakes up this often.'),
    cfg.FloatOpt(
        'stale_after', default=30.0, min=1.0, max=86400.0,
        help='Seconds after which a host that has sent no current metrics '
             'is stale: it is never chosen as a migration destination and '
             'no instance is moved off it on the strength of its old '
             'metrics. A metrics notification that is already older than '
             'this when it arrives (a backlog after a broker outage, or a '
             'host clock that is behind) updates the host\'s history but '
             'does not make it current again, until the host\'s samples '
             'have disagreed with this balancer\'s clock consistently for '
             'this long: the host\'s clock offset is then learned and its '
             'samples judged against it. Three times the agents\' '
             '``[drs_agent] interval`` (10 s by default) tolerates two lost '
             'notifications.\n\n'
             'Related options:\n\n'
             '* ``[drs_agent] interval``'),
    cfg.FloatOpt(
        'max_clock_skew', default=60.0, min=1.0, max=3600.0,
        help='Seconds a metrics or hotspot notification may be stamped '
             'ahead of this balancer\'s clock and still be current. One '
             'stamped further in the future (a compute node whose clock is '
             'wrong, or a forged message) is counted as ``future`` and '
             'does not make its host current; without sequence numbers '
             '(payload before 1.2) it is dropped, never stored, since it '
             'would make every real sample after it look out of order. A '
             'host whose samples keep saying the same for ``stale_after`` '
             'seconds has its clock offset learned. Keep the hosts\' '
             'clocks in sync (NTP); the agents\' sequence numbers, not '
             'their clocks, order the samples of a host, so a clock '
             'stepped back does not stall it.\n\n'
             'Related options:\n\n'
             '* ``[drs_listener] stale_after``'),
    cfg.BoolOpt(
        'nova_notifications', default=True,
        help='Read Nova\'s versioned notifications (instance create, '
             'delete, live migration, resize..., compute service, aggregate '
             'and server group changes) and refresh the inventory of Nova '
             'as soon as one arrives, instead of waiting for the periodic '
             'refresh. Nova must send them: ``[notifications] '
             'notification_format = versioned`` (or ``both``) and '
             '``[oslo_messaging_notifications] driver = messagingv2`` in '
             'nova.conf of every Nova service, and preferably '
             '``[notifications] notify_on_state_change = vm_and_task_state``'
             ' (without it Nova sends no ``instance.update``, so server '
             'metadata and state changes wait for the periodic refresh).\n\n'
             'Related options:\n\n'
             '* ``[drs_listener] nova_topic``, ``nova_pool``'),
    cfg.StrOpt(
        'nova_topic', default='versioned_notifications',
        help='Topic of Nova\'s versioned notifications: Nova\'s '
             '``[notifications] versioned_notifications_topics`` (one of '
             'them when there are several).'),
    cfg.StrOpt(
        'nova_exchange', default='nova',
        help='Exchange Nova publishes its notifications to: Nova\'s '
             '``[DEFAULT] control_exchange`` (``nova`` unless changed).'),
    cfg.StrOpt(
        'nova_transport_url', secret=True,
        help='Transport URL of the broker Nova sends its notifications to, '
             'when it is not the one of ``[oslo_messaging_notifications] '
             'transport_url`` (or ``[DEFAULT] transport_url``), e.g. a '
             'separate notification broker, or another virtual host: '
             'Nova\'s own ``[oslo_messaging_notifications] transport_url``.'
             ' Unset: the same broker as the agents\' metrics.'),
    cfg.StrOpt(
        'nova_pool',
        help='Listener pool (with RabbitMQ, the name of the queue) from '
             'which this balancer reads Nova\'s notifications.\n\n'
             'Possible values:\n\n'
             '* Unset (default): ``drs-balancer-nova-<replica id>`` for a '
             'balancer running as one of several replicas (each replica '
             'refreshes its own view, so each must get every notification), '
             '``drs-balancer-nova`` for a single balancer. The balancer never '
             'reads Nova\'s default queue ``<nova_topic>.info`` itself: other '
             'services (Ceilometer, Watcher, Masakari...) may consume it, '
             'and a listener there would take their messages.\n'
             '* A name: read that pool. Balancers given the same name split '
             'the notifications between them.\n\n'
             'The queue outlives the balancer; the broker policy on '
             '``^drs-balancer-`` (``doc/source/nova-events.rst``) removes '
             'the queue '
             'of a replica taken out of service and bounds its backlog.'),
    cfg.FloatOpt(
        'drop_log_interval', default=60.0, min=0.0, max=86400.0,
        help='Notifications that are dropped (malformed or out of bounds, '
             'of an unsupported payload version, from an unexpected '
             'publisher, unsigned or badly signed, or stamped in the '
             'future) are counted and logged as warnings, at most once '
             'per this many seconds for each kind of fault; the next '
             'warning says how many were not logged. 0 logs every one. '
             'The same applies to Nova\'s notifications that are '
             'dropped.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts, see nova_drs.conf.drs
    group = cfg.OptGroup(listener_group.name, title=listener_group.title,
                         help=listener_group.help)
    conf.register_group(group)
    conf.register_opts(LISTENER_OPTS, group=group)


def list_opts():
    return {listener_group: LISTENER_OPTS}
