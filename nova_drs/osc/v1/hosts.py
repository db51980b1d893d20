# SPDX-License-Identifier: Apache-2.0
"""``openstack drs host list|show|evacuate|pause|resume``."""

from osc_lib.command import command

from nova_drs.osc import arguments
from nova_drs.osc import fields
from nova_drs.osc.v1 import views
from nova_drs.osc.v1 import waiting


class ListHost(command.Lister):
    """List the compute hosts the balancer sees, with their loads."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        hot = parser.add_mutually_exclusive_group()
        hot.add_argument('--hot', dest='hot', action='store_true',
                         default=None,
                         help='Only hosts with a hot resource')
        hot.add_argument('--not-hot', dest='hot', action='store_false',
                         help='Only hosts with no hot resource')
        stale = parser.add_mutually_exclusive_group()
        stale.add_argument('--stale', dest='stale', action='store_true',
                           default=None,
                           help='Only hosts whose metrics are stale')
        stale.add_argument('--not-stale', dest='stale',
                           action='store_false',
                           help='Only hosts whose metrics are fresh')
        arguments.add_pagination(parser)
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.drs
        hosts = client.list_hosts(hot=parsed_args.hot,
                                  stale=parsed_args.stale,
                                  limit=parsed_args.limit,
                                  marker=parsed_args.marker)
        return fields.listing(hosts, views.HOST_LIST)


class ShowHost(command.ShowOne):
    """Show a compute host's loads, hot resources and balloon state."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='Compute host (as Nova names it)')
        return parser

    def take_action(self, parsed_args):
        host = self.app.client_manager.drs.get_host(parsed_args.host)
        return fields.show(host, views.HOST_SHOW)


class EvacuateHost(command.ShowOne):
    """Plan the live migration of every instance off a host.

    The balancer replica owning the host makes the plan and, unless
    --no-apply is given, applies it at once.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='Compute host to evacuate')
        parser.add_argument(
            '--no-apply', dest='apply', action='store_false',
            help='Only make the plan (state "recommended"); apply it '
                 'later with "openstack drs plan apply"')
        arguments.add_wait(parser, 'evacuation plan')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.drs
        request = client.evacuate_host(parsed_args.host,
                                       apply=parsed_args.apply)
        return waiting.result(client, request, parsed_args)


class PauseHost(command.ShowOne):
    """Pause the automatic balancing of a host.

    The balancer moves no instance off or onto it by itself (from each
    replica's next cycle); an explicit "host evacuate" still works.
    """

    resume = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='Compute host (as Nova names it)')
        parser.add_argument(
            '--reason', metavar='<reason>',
            help='Why (at most 255 characters; stored with the change and '
                 'in the audit trail)')
        return parser

    def take_action(self, parsed_args):
        host = self.app.client_manager.drs.set_host_paused(
            parsed_args.host, not self.resume, reason=parsed_args.reason)
        return fields.show(host, views.HOST_SHOW)


class ResumeHost(PauseHost):
    """Resume the automatic balancing of a host."""

    resume = True
