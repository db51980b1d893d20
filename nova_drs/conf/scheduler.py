# SPDX-License-Identifier: Apache-2.0
"""The Nova scheduler filter and weigher: the ``[drs_scheduler]`` group.

These options are read inside nova-scheduler (from nova.conf), by
``nova_drs.scheduler.filters.DRSHotspotFilter`` and
``nova_drs.scheduler.weighers.DRSLoadWeigher``; the data comes from the
nova-drs database of ``[drs_database]`` (doc/source/scheduler.rst).
"""

from oslo_config import cfg

scheduler_group = cfg.OptGroup(
    name='drs_scheduler',
    title='nova-drs scheduler filter and weigher options',
    help='How the nova-drs filter and weigher, loaded by nova-scheduler, '
         'read the hosts\' state the balancer stores in the nova-drs '
         'database (``[drs_database]``), and how much they trust it. When '
         'the data is missing or older than ``max_age`` the filter passes '
         'every host and the weigher is neutral: nova-drs never stops Nova '
         'from scheduling.')

SCHEDULER_OPTS = [
    cfg.FloatOpt(
        'refresh_interval', default=5.0, min=0.5, max=3600.0,
        help='Seconds between two reads of the hosts\' state from the '
             'nova-drs database, by a background thread of each '
             'nova-scheduler process. Scheduling requests never wait for '
             'the database: they read the copy in memory.\n\n'
             'Related options:\n\n'
             '* ``[drs_scheduler] max_age``\n'
             '* ``[drs_balancer] host_state_interval``'),
    cfg.FloatOpt(
        'full_refresh_interval', default=300.0, min=0.0, max=86400.0,
        help='A refresh reads only the hosts\' states written since the '
             'previous one; once every this many seconds it reads them '
             'all. The full read bounds how long a state written under a '
             'balancer clock stepped back by more than a few seconds can '
             'stay unseen (deleted hosts are seen at the next refresh '
             'anyway). 0 reads every state at every refresh.\n\n'
             'Related options:\n\n'
             '* ``[drs_scheduler] refresh_interval``'),
    cfg.FloatOpt(
        'max_age', default=60.0, min=1.0, max=86400.0,
        help='Seconds after which nova-drs data is too old to act on: a '
             'host whose state was written longer ago than this, or every '
             'host when the last successful read of the database is older '
             'than this, is passed by the filter and weighed neutrally. It '
             'must be well above ``refresh_interval`` plus the balancer\'s '
             '``[drs_balancer] host_state_interval``, and above the clock '
             'difference between the balancer and nova-scheduler hosts '
             '(row ages are measured on the wall clock).'),
    cfg.FloatOpt(
        'cpu_weight_multiplier', default=1.0, min=-1000.0, max=1000.0,
        help='Weight of measured CPU headroom in the nova-drs weigher. '
             'Positive values prefer hosts whose measured (smoothed) CPU '
             'load is low, spreading load; negative values prefer busy '
             'hosts, stacking it; 0 ignores CPU. Compare with Nova\'s '
             '``[filter_scheduler] cpu_weight_multiplier`` (1.0), which '
             'weighs allocated rather than measured vCPUs.\n\n'
             'Related options:\n\n'
             '* ``[drs_scheduler] memory_weight_multiplier``'),
    cfg.FloatOpt(
        'memory_weight_multiplier', default=1.0, min=-1000.0, max=1000.0,
        help='Weight of measured memory headroom in the nova-drs weigher. '
             'Positive values prefer hosts whose guests use little of the '
             'host\'s memory, negative values the fullest hosts, 0 ignores '
             'memory. Compare with Nova\'s ``[filter_scheduler] '
             'ram_weight_multiplier`` (1.0), which weighs allocated rather '
             'than used memory.'),
    cfg.BoolOpt(
        'reject_reserved_destinations', default=True,
        help='Let the filter also reject hosts that are the destination of '
             'a running live migration of nova-drs, or of a pending one of '
             'a plan being applied, so that a new instance does not take '
             'the room the balancer counted on.'),
    cfg.BoolOpt(
        'pass_all_when_all_rejected', default=True,
        help='When the filter would reject every candidate host of a '
             'request (all hot or reserved), let them all through with a '
             'warning instead, so that a busy cloud still schedules '
             '(Nova\'s own filters still check capacity). False: strict, '
             'the request fails with "No valid host was found".'),
    cfg.FloatOpt(
        'warning_interval', default=300.0, min=0.0, max=86400.0,
        help='The filter and weigher log a warning when nova-drs data is '
             'missing or too old (they then let every host through and '
             'weigh neutrally), and the refresh thread one when the '
             'database cannot be read; each at most once per this many '
             'seconds, the next one saying how many were not logged. 0 '
             'logs every one.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts (see nova_drs.conf.drs)
    group = cfg.OptGroup(scheduler_group.name, title=scheduler_group.title,
                         help=scheduler_group.help)
    conf.register_group(group)
    conf.register_opts(SCHEDULER_OPTS, group=group)


def list_opts():
    return {scheduler_group: SCHEDULER_OPTS}
