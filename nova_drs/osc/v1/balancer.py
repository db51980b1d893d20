# SPDX-License-Identifier: Apache-2.0
"""``openstack drs balancer show|set|unset|pause|resume``.

The balancer's settings for the whole cluster (API microversion 1.2):
the mode every replica plans in, and whether automatic balancing is
paused. Each change is stored with the user and the reason, and every
balancer replica honours it at its next cycle.
"""

from osc_lib.command import command
from osc_lib import exceptions

from nova_drs.osc import fields
from nova_drs.osc.v1 import views

#: the automation levels (``[drs_balancer] mode``); not imported from
#: nova_drs.db.models so that the command line does not load SQLAlchemy
#: (a unit test checks that both agree)
MODES = ('manual', 'partial', 'full')


def add_reason(parser):
    parser.add_argument(
        '--reason', metavar='<reason>',
        help='Why (at most 255 characters; stored with the change and in '
             'the audit trail)')


class ShowBalancer(command.ShowOne):
    """Show the balancer's mode and whether balancing is paused."""

    def take_action(self, parsed_args):
        return fields.show(self.app.client_manager.drs.get_balancer(),
                           views.BALANCER_SHOW)


class SetBalancer(command.ShowOne):
    """Set the mode every balancer replica plans in.

    It replaces each replica's [drs_balancer] mode from their next cycle
    on ("openstack drs balancer unset --mode" goes back to it).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--mode', metavar='<mode>', choices=MODES, required=True,
            help='manual: plans are only recommended; partial: only '
                 'mandatory moves (maintenance, severe hotspots) are '
                 'applied; full: every plan is applied')
        add_reason(parser)
        return parser

    def take_action(self, parsed_args):
        settings = self.app.client_manager.drs.update_balancer(
            mode=parsed_args.mode, reason=parsed_args.reason)
        return fields.show(settings, views.BALANCER_SHOW)


class UnsetBalancer(command.ShowOne):
    """Go back to each replica's configured mode ([drs_balancer] mode)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--mode', action='store_true',
            help='Forget the mode an operator set')
        add_reason(parser)
        return parser

    def take_action(self, parsed_args):
        if not parsed_args.mode:
            raise exceptions.CommandError('nothing to unset: give --mode')
        settings = self.app.client_manager.drs.update_balancer(
            mode=None, reason=parsed_args.reason)
        return fields.show(settings, views.BALANCER_SHOW)


class PauseBalancer(command.ShowOne):
    """Pause automatic balancing for the whole cluster.

    No replica makes or applies a plan by itself, and no migration of
    such a plan starts (those running finish). Plan requests ("plan
    create") and evacuations ("host evacuate") are still carried out.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_reason(parser)
        return parser

    def take_action(self, parsed_args):
        settings = self.app.client_manager.drs.update_balancer(
            paused=True, reason=parsed_args.reason)
        return fields.show(settings, views.BALANCER_SHOW)


class ResumeBalancer(PauseBalancer):
    """Resume automatic balancing for the whole cluster."""

    def take_action(self, parsed_args):
        settings = self.app.client_manager.drs.update_balancer(
            paused=False, reason=parsed_args.reason)
        return fields.show(settings, views.BALANCER_SHOW)
