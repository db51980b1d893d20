# SPDX-License-Identifier: Apache-2.0
"""Options shared with Nova's ``[libvirt]`` group.

Only ``connection_uri`` is read, with Nova's meaning, so the agent can be
pointed at the compute host's ``nova.conf``. Nova's other ``[libvirt]``
options in that file are ignored.
"""

from oslo_config import cfg

libvirt_group = cfg.OptGroup(
    name='libvirt',
    title='libvirt connection',
    help='The libvirt connection of the agent; the same option as in '
         'Nova\'s [libvirt] group, so nova.conf can be shared.')

LIBVIRT_OPTS = [
    cfg.StrOpt(
        'connection_uri', default='qemu:///system',
        help='libvirt connection URI of the hypervisor whose guests the '
             'agent watches. An empty value (Nova\'s default) means '
             '``qemu:///system``. The agent samples the guests through a '
             'read-only connection and opens a read-write one only to '
             'resize balloons (never with ``[drs_balloon] dry_run``), so '
             'it needs write access to libvirtd unless it runs dry.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts, see nova_drs.conf.drs
    group = cfg.OptGroup(libvirt_group.name, title=libvirt_group.title,
                         help=libvirt_group.help)
    conf.register_group(group)
    conf.register_opts(LIBVIRT_OPTS, group=group)


def list_opts():
    return {libvirt_group: LIBVIRT_OPTS}
