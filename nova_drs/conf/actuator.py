# SPDX-License-Identifier: Apache-2.0
"""How the balancer runs a live migration: the ``[drs_actuator]`` group."""

from oslo_config import cfg

actuator_group = cfg.OptGroup(
    name='drs_actuator',
    title='nova-drs actuator options',
    help='How the balancer asks Nova for one live migration and follows it '
         'to its end: polling, and what to do with a migration that runs '
         'too long.')

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
]


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
