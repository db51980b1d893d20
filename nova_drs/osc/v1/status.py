# SPDX-License-Identifier: Apache-2.0
"""``openstack drs status``: the balancer at a glance."""

from osc_lib.command import command

from nova_drs.osc import fields
from nova_drs.osc.v1 import views


class ShowStatus(command.ShowOne):
    """Show the balancer's mode, replicas and counts of hosts and plans."""

    def take_action(self, parsed_args):
        status = self.app.client_manager.drs.get_status()
        return fields.show(status, views.STATUS_SHOW)
