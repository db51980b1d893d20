# SPDX-License-Identifier: Apache-2.0
"""``openstack drs migration list|show``: the live migrations of plans."""

from osc_lib.command import command

from nova_drs.osc import arguments
from nova_drs.osc import fields
from nova_drs.osc.v1 import states
from nova_drs.osc.v1 import views


class ListMigration(command.Lister):
    """List the balancer's live migrations, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--state', metavar='<state>',
                            choices=states.MIGRATION_STATES,
                            help='Only migrations in this state (%s)'
                                 % ', '.join(states.MIGRATION_STATES))
        parser.add_argument('--instance', metavar='<uuid>',
                            help='Only migrations of this instance')
        parser.add_argument('--host', metavar='<host>',
                            help='Only migrations from or to this host')
        parser.add_argument('--plan', metavar='<uuid>',
                            help='Only migrations of this plan')
        parser.add_argument('--long', action='store_true',
                            help='Also show the reason, the plan and the '
                                 'times')
        arguments.add_pagination(parser)
        return parser

    def take_action(self, parsed_args):
        migrations = self.app.client_manager.drs.list_migrations(
            state=parsed_args.state, instance=parsed_args.instance,
            host=parsed_args.host, plan=parsed_args.plan,
            limit=parsed_args.limit, marker=parsed_args.marker)
        columns = (views.MIGRATION_LIST_LONG if parsed_args.long
                   else views.MIGRATION_LIST)
        return fields.listing(migrations, columns)


class ShowMigration(command.ShowOne):
    """Show a live migration: hosts, timings, Nova's record and error."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('migration', metavar='<migration>',
                            help='Migration UUID (the plan action\'s)')
        return parser

    def take_action(self, parsed_args):
        migration = self.app.client_manager.drs.get_migration(
            parsed_args.migration)
        return fields.show(migration, views.MIGRATION_SHOW)
