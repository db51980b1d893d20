# SPDX-License-Identifier: Apache-2.0
"""``openstack drs plan create|list|show|apply|cancel`` and
``openstack drs plan request show``."""

from osc_lib.command import command

from nova_drs.osc import arguments
from nova_drs.osc import fields
from nova_drs.osc.v1 import states
from nova_drs.osc.v1 import views
from nova_drs.osc.v1 import waiting


class CreatePlan(command.ShowOne):
    """Ask the balancer for a dry-run plan made now from its live view.

    The plan is stored "recommended" (origin "operator"); nothing moves
    until it is applied.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--strategy', metavar='<strategy>',
            help='Strategy to plan with (an installed one, e.g. hotspot; '
                 'default: the configured one)')
        arguments.add_wait(parser, 'plan')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.drs
        request = client.create_plan(strategy=parsed_args.strategy)
        return waiting.result(client, request, parsed_args)


class ListPlan(command.Lister):
    """List plans, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--state', metavar='<state>',
                            choices=states.PLAN_STATES,
                            help='Only plans in this state (%s)'
                                 % ', '.join(states.PLAN_STATES))
        parser.add_argument('--origin', metavar='<origin>',
                            choices=states.PLAN_ORIGINS,
                            help='Only plans of this origin (%s)'
                                 % ', '.join(states.PLAN_ORIGINS))
        arguments.add_pagination(parser)
        return parser

    def take_action(self, parsed_args):
        plans = self.app.client_manager.drs.list_plans(
            state=parsed_args.state, origin=parsed_args.origin,
            limit=parsed_args.limit, marker=parsed_args.marker)
        return fields.listing(plans, views.PLAN_LIST)


class _OnePlan(command.ShowOne):

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('plan', metavar='<plan>', help='Plan UUID')
        return parser


class ShowPlan(_OnePlan):
    """Show a plan and its migrations."""

    def take_action(self, parsed_args):
        plan = self.app.client_manager.drs.get_plan(parsed_args.plan)
        return fields.show(plan, views.PLAN_SHOW)


class ApplyPlan(_OnePlan):
    """Apply a recommended plan: its migrations start."""

    def take_action(self, parsed_args):
        plan = self.app.client_manager.drs.apply_plan(parsed_args.plan)
        return fields.show(plan, views.PLAN_SHOW)


class CancelPlan(_OnePlan):
    """Cancel a recommended or applying plan.

    Its pending migrations are cancelled; those already running go on to
    their end.
    """

    def take_action(self, parsed_args):
        plan = self.app.client_manager.drs.cancel_plan(parsed_args.plan)
        return fields.show(plan, views.PLAN_SHOW)


class ShowPlanRequest(command.ShowOne):
    """Show a plan request (from "plan create" or "host evacuate")."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('request', metavar='<plan-request>',
                            help='Plan request UUID')
        return parser

    def take_action(self, parsed_args):
        request = self.app.client_manager.drs.get_plan_request(
            parsed_args.request)
        return fields.show(request, views.PLAN_REQUEST_SHOW)
