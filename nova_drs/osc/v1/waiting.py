# SPDX-License-Identifier: Apache-2.0
"""``--wait``: follow a plan request to its plan.

``plan create`` and ``host evacuate`` only ask for a plan (the API
answers 202 with a *plan request*); a balancer replica makes it within
seconds. With ``--wait`` the command polls the request and shows the
plan, or fails with the balancer's reason.
"""

from osc_lib import exceptions

from nova_drs import client as drs_client
from nova_drs.osc import fields
from nova_drs.osc.v1 import views

POLL_INTERVAL = 1.0


def result(client, request, parsed_args):
    """The (columns, values) of a new plan request, or of its plan."""
    if not parsed_args.wait:
        return fields.show(request, views.PLAN_REQUEST_SHOW)
    try:
        final = client.wait_for_plan_request(
            request['uuid'], timeout=parsed_args.timeout,
            interval=POLL_INTERVAL)
    except drs_client.WaitTimeout as exc:
        # NOTE: the request goes on without us; say how to find it.
        raise exceptions.CommandError(
            '%s; follow it with "openstack drs plan request show %s"'
            % (exc.message, request['uuid']))
    if final.get('state') != drs_client.REQUEST_DONE:
        raise exceptions.CommandError(
            'plan request %s failed: %s' % (
                final.get('uuid'), final.get('error') or 'no reason given'))
    if not final.get('plan_uuid'):
        # NOTE: "done" without a plan should not happen; say so rather
        # than ask the API for plan "None".
        raise exceptions.CommandError(
            'plan request %s is done but names no plan' % final.get('uuid'))
    plan = client.get_plan(final['plan_uuid'])
    return fields.show(plan, views.PLAN_SHOW)
