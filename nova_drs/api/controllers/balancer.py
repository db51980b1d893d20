# SPDX-License-Identifier: Apache-2.0
"""The balancer's settings for the whole cluster: its mode and pause.

``GET /v1/balancer`` and ``PATCH /v1/balancer`` (microversion 1.2).
What an operator sets is stored in the database (``balancer_settings``,
with an audit event naming the user and the reason) and every balancer
replica reads it at each cycle and before it starts a migration
(doc/source/balancer.rst, "Operator control"): the mode replaces each
replica's ``[drs_balancer] mode``; a pause stops automatic balancing.

Until an operator sets a mode, the replicas plan in their configured one:
the view shows the mode the live replicas report (when they agree), else
the API's own ``[drs_balancer] mode``.
"""

from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import microversion
from nova_drs.db import control

#: the first version with operator control
VERSION = microversion.Version(1, 2)


def is_stale(row, now, stale_after):
    """A replica row not rewritten for ``stale_after`` seconds."""
    return (now - row.updated_at).total_seconds() > stale_after


def configured(call, rows, now):
    """``(mode, strategy)`` the replicas run with by configuration.

    What the live replicas report, when they all agree; else the API's
    own ``[drs_balancer]`` (give it the balancers' configuration file).
    """
    stale_after = call.conf.drs_api.host_stale_after
    live = [r for r in rows if not is_stale(r, now, stale_after)]
    modes = {r.mode for r in live if r.mode_source == 'config'}
    strategies = {r.strategy for r in live}
    own = call.conf.drs_balancer
    return (modes.pop() if len(modes) == 1 else own.mode,
            strategies.pop() if len(strategies) == 1 else own.strategy)


def cluster_mode(call, settings, rows, now):
    """The cluster's mode: the operator's, else the configured one."""
    return settings.mode or configured(call, rows, now)[0]


def view(call, settings, rows=None):
    now = call.db.now()
    if rows is None:
        rows = call.db.list_replica_states()
    return {
        'mode': cluster_mode(call, settings, rows, now),
        'mode_source': settings.mode_source,
        'paused': settings.paused,
        'reason': settings.reason,
        'updated_by': settings.updated_by,
        'updated_at': fields.isotime(settings.updated_at),
        'paused_hosts': [
            {'host': p.host, 'reason': p.reason, 'paused_by': p.updated_by,
             'paused_at': fields.isotime(p.updated_at)}
            for _host, p in sorted(settings.paused_hosts.items())],
    }


def show(call):
    microversion.require(call.version, VERSION, 'GET /v1/balancer')
    return 200, {'balancer': view(call, call.db.balancer_settings())}


def update(call):
    microversion.require(call.version, VERSION, 'PATCH /v1/balancer')
    body = call.body
    if 'mode' not in body and 'paused' not in body:
        raise errors.BadRequest('nothing to change: give "mode" (manual, '
                                'partial, full, or null for each '
                                'replica\'s configured mode) and/or '
                                '"paused"')
    try:
        settings = call.db.update_balancer_settings(
            call.user, mode=body.get('mode', control.UNSET),
            paused=body.get('paused'), reason=body.get('reason'))
    except ValueError as e:
        raise errors.BadRequest(str(e)) from None
    return 200, {'balancer': view(call, settings)}
