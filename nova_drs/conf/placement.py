# SPDX-License-Identifier: Apache-2.0
"""How the balancer reaches Placement: the ``[drs_placement]`` group.

The balancer reads each compute node's resource provider inventories
(VCPU and MEMORY_MB: total, reserved, allocation_ratio), so that it plans
with the capacities Nova enforces. Placement is called with the
credentials and session of ``[drs_nova]``; this group only chooses its
endpoint, with the standard keystoneauth adapter options.
"""

from oslo_config import cfg

from nova_drs.conf import nova

placement_group = cfg.OptGroup(
    name='drs_placement',
    title='nova-drs Placement client options',
    help='Endpoint selection for the Placement API, which the nova-drs '
         'balancer calls with the credentials and session settings of '
         '[drs_nova]. region_name defaults to the one of [drs_nova].')


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(placement_group.name, title=placement_group.title,
                         help=placement_group.help)
    conf.register_group(group)
    conf.register_opts(nova.adapter_opts(), group=group)


def list_opts():
    return {placement_group: nova.adapter_opts()}
