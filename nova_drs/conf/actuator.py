# SPDX-License-Identifier: Apache-2.0
"""How the balancer runs live migrations: the ``[drs_actuator]`` group.

The actuator (one migration: request, follow, timeout) and the executor
(which actions run when, how many at once, takeover of a dead replica's
migrations) read this group.
"""

from oslo_config import cfg

actuator_group = cfg.OptGroup(
    name='drs_actuator',
    title='nova-drs actuator options',
    help='How the balancer asks Nova for live migrations and follows them '
         'to their end: polling, what to do with a migration that runs '
         'too long, how many run at once, and when a replica takes over '
         'the migrations of one that stopped.')

ACTUATOR_OPTS = [
    cfg.FloatOpt(
        'poll_interval', default=2.0, min=0.1, max=60.0,
        help='Seconds between two looks at a running live migration '
             '(``/servers/{id}/migrations``, then ``/os-migrations`` for '
             'its final state).'),
    cfg.IntOpt(
        'migration_timeout', default=1800, min=1, max=86400,
        help='Seconds a live migration may run, from the request, before '
             'the balancer applies ``timeout_action`` to it. This is the '
             'balancer\'s own limit on one migration slot; Nova\'s libvirt '
             'driver has its own, per GiB of guest memory '
             '(``[libvirt] live_migration_completion_timeout`` and '
             '``live_migration_timeout_action`` in nova.conf), which may '
             'act first.\n\n'
             'Related options:\n\n'
             '* ``[drs_actuator] timeout_action``'),
    cfg.StrOpt(
        'timeout_action', default='abort',
        choices=[
            ('abort', 'abort the migration (the server stays on its source '
                      'host); needs compute API microversion 2.24, or 2.65 '
                      'for a migration still queued or preparing'),
            ('force_complete', 'force the migration to complete (with '
                               'libvirt: pause the guest, or switch to '
                               'post-copy when it is enabled); only '
                               'possible while the migration is running'),
        ],
        help='What the balancer does with a live migration that runs longer '
             'than ``migration_timeout``. Either way the result reports '
             'that the timeout was reached and what was done.'),
    cfg.IntOpt(
        'timeout_action_wait', default=120, min=1, max=3600,
        help='Seconds to wait, after ``timeout_action``, for the migration '
             'to reach a final state (completed, cancelled, error or '
             'failed). After that the balancer stops following it and '
             'reports its state as unknown; Nova may still finish it.'),
    cfg.IntOpt(
        'max_concurrent_migrations', default=8, min=1, max=1000,
        help='Live migrations the balancer replicas run at once in the '
             'whole cluster, counted from the database (all replicas). '
             'Further actions wait for a slot.\n\n'
             'Related options:\n\n'
             '* ``[drs_actuator] max_concurrent_migrations_per_host``'),
    cfg.IntOpt(
        'max_concurrent_migrations_per_host', default=1, min=1, max=100,
        help='Live migrations from or to one compute host at once. Nova '
             'has its own per-compute limit (``[DEFAULT] '
             'max_concurrent_live_migrations`` in nova.conf, default 1); '
             'migrations over it wait ``queued`` in Nova and count '
             'against ``migration_timeout``, so keep this at or below '
             'it.'),
    cfg.IntOpt(
        'bad_pair_duration', default=3600, min=60, max=7 * 86400,
        help='Seconds during which an (instance, destination) pair whose '
             'live migration failed, was refused by Nova or was aborted '
             'is not planned again.'),
    cfg.FloatOpt(
        'takeover_after', default=20.0, min=1.0, max=3600.0,
        help='Seconds without a heartbeat after which a running migration '
             'is taken over by the replica that owns its source or '
             'destination host (which may be the same replica, after a '
             'restart) and followed to its end. The owner heartbeats at '
             'every poll, so this must be at least 5 times '
             '``poll_interval`` (checked at start). A dead replica\'s '
             'migrations are followed again at most about '
             '``takeover_after + scan_interval`` seconds after its last '
             'heartbeat (plus the time its hosts take to move, see '
             '``[drs_coordination] member_timeout``).\n\n'
             'Related options:\n\n'
             '* ``[drs_actuator] poll_interval``\n'
             '* ``[drs_actuator] scan_interval``'),
    cfg.FloatOpt(
        'scan_interval', default=5.0, min=0.05, max=300.0,
        help='Seconds between two looks of the executor at the database '
             'for actions to start and migrations to take over. A new '
             'plan being applied, a membership change or an ended '
             'migration start a look at once.'),
    cfg.IntOpt(
        'pending_timeout', default=600, min=1, max=86400,
        help='Seconds an action may stay blocked (no room on its '
             'destination, destination or instance locked by another '
             'replica), counted from the first refusal, before its plan '
             'is cancelled, so that the planner makes a fresh plan from '
             'the current state. Waiting for a free migration slot or for '
             'an earlier action of the same plan does not start the '
             'count.'),
]

#: takeover_after must be at least this many poll intervals: the owner
#: heartbeats once per poll, and one slow poll (a slow Nova answer, a
#: database retry) must not look like a dead owner.
TAKEOVER_POLLS = 5


def check(conf):
    """Check what oslo.config cannot: options that depend on each other.

    :raises ValueError: with the options named
    """
    opts = conf.drs_actuator
    if opts.takeover_after < TAKEOVER_POLLS * opts.poll_interval:
        raise ValueError(
            '[drs_actuator] takeover_after (%s s) must be at least %d times '
            'poll_interval (%s s): the owner of a migration heartbeats '
            'once per poll' % (opts.takeover_after, TAKEOVER_POLLS,
                               opts.poll_interval))


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(actuator_group.name, title=actuator_group.title,
                         help=actuator_group.help)
    conf.register_group(group)
    conf.register_opts(ACTUATOR_OPTS, group=group)


def list_opts():
    return {actuator_group: ACTUATOR_OPTS}
