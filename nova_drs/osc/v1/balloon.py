# SPDX-License-Identifier: Apache-2.0
"""``openstack drs balloon show|set``: an instance's ballooning settings.

The settings are Nova server metadata (the opt-out key and the balloon
floor key of the nova-drs configuration); the API reads and writes them,
so the commands need no Nova access when given a server UUID. A server
name is looked up in Nova (compute API) first.
"""

from osc_lib.command import command
from osc_lib import exceptions
from oslo_utils import uuidutils

from nova_drs.osc import arguments
from nova_drs.osc import fields
from nova_drs.osc.v1 import views


def server_uuid(app, server):
    """The UUID of ``server`` (a UUID, or a name Nova knows)."""
    if uuidutils.is_uuid_like(server):
        return server
    try:
        found = app.client_manager.compute.find_server(
            server, ignore_missing=False)
    except Exception as exc:
        # NOTE: openstacksdk raises its ResourceNotFound or
        # DuplicateResource, or a keystoneauth error without a catalog;
        # each message already says which.
        raise exceptions.CommandError(
            'cannot find server %r in Nova: %s' % (server, exc))
    return found.id


def _add_server(parser):
    parser.add_argument('server', metavar='<server>',
                        help='Server (name or UUID)')


class ShowBalloon(command.ShowOne):
    """Show a server's ballooning settings and latest balloon state."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_server(parser)
        return parser

    def take_action(self, parsed_args):
        uuid = server_uuid(self.app, parsed_args.server)
        instance = self.app.client_manager.drs.get_instance(uuid)
        return fields.show(instance, views.INSTANCE_SHOW)


class SetBalloon(command.Command):
    """Set a server's balloon floor and whether the balancer may move it.

    Written to the server's Nova metadata; the agent applies a new floor
    at its next metadata refresh.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_server(parser)
        floor = parser.add_mutually_exclusive_group()
        floor.add_argument(
            '--floor', metavar='<MB>', type=arguments.non_negative_int,
            help='Never deflate the balloon below this much guest '
                 'memory (MB)')
        floor.add_argument(
            '--no-floor', action='store_true',
            help='Remove the server\'s own floor (the configured one '
                 'applies)')
        opt = parser.add_mutually_exclusive_group()
        opt.add_argument(
            '--opt-out', dest='opt_out', action='store_true', default=None,
            help='Exclude the server from automatic live migration')
        opt.add_argument(
            '--opt-in', dest='opt_out', action='store_false',
            help='Let the balancer migrate the server again')
        return parser

    def take_action(self, parsed_args):
        changes = {}
        if parsed_args.floor is not None:
            changes['balloon_floor_mb'] = parsed_args.floor
        elif parsed_args.no_floor:
            changes['balloon_floor_mb'] = None
        if parsed_args.opt_out is not None:
            changes['opt_out'] = parsed_args.opt_out
        if not changes:
            raise exceptions.CommandError(
                'nothing to set: give --floor, --no-floor, --opt-out or '
                '--opt-in')
        uuid = server_uuid(self.app, parsed_args.server)
        self.app.client_manager.drs.update_instance(uuid, **changes)
