# SPDX-License-Identifier: Apache-2.0
"""``openstack drs event list``: the audit trail (API 1.3)."""

from osc_lib.command import command
from osc_lib import exceptions
from oslo_utils import timeutils

from nova_drs.osc import arguments
from nova_drs.osc import fields
from nova_drs.osc.v1 import views


def _timestamp(text):
    """An ISO 8601 time; one without a time zone is taken as UTC."""
    try:
        value = timeutils.parse_isotime(text)
    except ValueError:
        raise exceptions.CommandError(
            '--since: %r is not an ISO 8601 time (e.g. '
            '2026-01-01T12:00:00Z)' % text) from None
    return timeutils.normalize_time(value).isoformat() + 'Z'


class ListEvent(command.Lister):
    """List the audit trail: who did what to plans, migrations, settings."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--kind', metavar='<kind>',
                            help='Only this kind (plan.applied), or every '
                                 'kind under a prefix ending with a dot '
                                 '(action.)')
        parser.add_argument('--object', metavar='<uuid>',
                            help='Only events of this plan, migration, '
                                 'plan request or instance')
        parser.add_argument('--actor', metavar='<actor>',
                            help='Only events of this replica or user id')
        parser.add_argument('--since', metavar='<time>',
                            help='Only events at or after this ISO 8601 '
                                 'time (UTC when it has no time zone)')
        parser.add_argument('--oldest-first', action='store_true',
                            help='Oldest first (default: newest first)')
        parser.add_argument('--long', action='store_true',
                            help='Also show the detail of each event')
        arguments.add_pagination(parser)
        return parser

    def take_action(self, parsed_args):
        since = (_timestamp(parsed_args.since) if parsed_args.since
                 else None)
        events = self.app.client_manager.drs.list_events(
            kind=parsed_args.kind, object_uuid=parsed_args.object,
            actor=parsed_args.actor, since=since,
            oldest_first=parsed_args.oldest_first,
            limit=parsed_args.limit, marker=parsed_args.marker)
        columns = (views.EVENT_LIST_LONG if parsed_args.long
                   else views.EVENT_LIST)
        return fields.listing(events, columns)
