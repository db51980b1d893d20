# SPDX-License-Identifier: Apache-2.0
"""Compute hosts as the balancer sees them, and their evacuation.

Read from the ``host_states`` table, which the replica owning each host
rewrites every ``[drs_balancer] host_state_interval`` seconds, and the
destinations reserved by running or planned migrations. A host is shown
``stale`` when the balancer marked it so (no current sample from its
agent) or when its row is older than ``[drs_api] host_stale_after``
(its replica stopped writing).

From microversion 1.2 a host also shows whether an operator paused its
balancing (``host_settings``), and ``PATCH /v1/hosts/{host}`` pauses or
resumes it. From 1.3 it shows its ``consolidation`` state: ``empty`` (no
guest, none on its way: it can be powered off), ``disabled`` (and
nova-drs disabled its nova-compute service), or null.
"""

from nova_drs.api.controllers import plan_requests
from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import microversion
from nova_drs.api import paging
from nova_drs.db import models

#: the first version that shows and changes a host's pause
PAUSE_VERSION = microversion.Version(1, 2)
#: the first version that shows a host's consolidation state
CONSOLIDATION_VERSION = microversion.Version(1, 3)


def is_stale(row, now, stale_after):
    """Whether a host's row is stale; ``now``: the database server's."""
    age = (now - row.updated_at).total_seconds()
    return bool(row.stale) or age > stale_after


def balloon_totals(balloon):
    """A host's balloon totals, without the per-guest details.

    The balancer stores the agent's totals with each guest's state under
    ``guests`` (for ``GET /v1/instances/{uuid}``); a host shows how many
    guests there are instead.
    """
    if not isinstance(balloon, dict):
        return None
    totals = dict(balloon)
    if isinstance(totals.get('guests'), dict):
        totals['guests'] = len(totals['guests'])
    return totals


def pause_fields(setting):
    """A host's pause (1.2): its ``host_settings`` row, or None."""
    paused = bool(setting is not None and setting.paused)
    return {
        'paused': paused,
        'pause_reason': setting.reason if paused else None,
        'paused_by': setting.updated_by if paused else None,
        'paused_at': fields.isotime(setting.updated_at) if paused else None,
    }


def view(row, reserved, now, stale_after, settings=None, version=None):
    """A host; with ``settings`` (``{host: HostSetting}``), its pause.

    :param version: the request's microversion (1.3 and later show the
        consolidation state)
    """
    body = {
        'name': row.host,
        'reported_by': row.reported_by,
        'updated_at': fields.isotime(row.updated_at),
        'sampled_at': fields.isotime(row.sampled_at),
        'stale': is_stale(row, now, stale_after),
        'hot': list(row.hot or []),
        'load': dict(row.load or {}),
        'smoothed': dict(row.smoothed or {}),
        'cpu_count': row.cpu_count,
        'memory_total_mb': row.memory_total_mb,
        'guest_count': row.guest_count,
        'balloon': balloon_totals(row.balloon),
        'reserved_migrations': reserved.get(row.host, 0),
    }
    if settings is not None:
        # 1.2
        body.update(pause_fields(settings.get(row.host)))
        body['libvirt_connected'] = row.libvirt_connected
    if version is not None and version >= CONSOLIDATION_VERSION:
        body['consolidation'] = row.consolidation
    return body


def _settings(call, names):
    """The pauses of ``names``, when the version shows them (else None)."""
    if call.version < PAUSE_VERSION:
        return None
    return call.db.list_host_settings(hosts=names)


def _row(call, host):
    rows = call.db.list_host_states(hosts=[host])
    if not rows:
        raise errors.NotFound('host %s is unknown to the balancer (it has '
                              'no state in its database)' % host)
    return rows[0]


def index(call):
    db = call.db
    # the clock the rows are stamped with (Database.server_now)
    now = db.server_now()
    stale_after = call.conf.drs_api.host_stale_after
    rows = db.list_host_states()
    marker = call.query.get('marker')
    if marker is not None:
        names = [r.host for r in rows]
        if marker not in names:
            raise errors.BadRequest('marker host %s not found' % marker)
        rows = rows[names.index(marker) + 1:]
    hot = call.query.get('hot')
    if hot is not None:
        rows = [r for r in rows if bool(r.hot) == (hot == 'true')]
    stale = call.query.get('stale')
    if stale is not None:
        rows = [r for r in rows
                if is_stale(r, now, stale_after) == (stale == 'true')]
    size = paging.page_size(call)
    rows, links = paging.page(call, rows[:size + 1], lambda r: r.host, size)
    reserved = db.reserved_destinations()
    settings = _settings(call, [r.host for r in rows])
    return 200, {'hosts': [view(r, reserved, now, stale_after, settings,
                                call.version)
                           for r in rows],
                 'links': links}


def show(call, host):
    row = _row(call, host)
    return 200, {'host': view(row, call.db.reserved_destinations(),
                              call.db.server_now(),
                              call.conf.drs_api.host_stale_after,
                              _settings(call, [host]), call.version)}


def update(call, host):
    """Pause or resume the balancing of a host (1.2)."""
    microversion.require(call.version, PAUSE_VERSION,
                         'PATCH /v1/hosts/{host}')
    _row(call, host)
    try:
        call.db.set_host_paused(host, call.body['paused'], call.user,
                                reason=call.body.get('reason'))
    except ValueError as e:
        raise errors.BadRequest(str(e)) from None
    return show(call, host)


def evacuate(call, host):
    _row(call, host)
    apply = call.body.get('apply', True)
    request = call.db.create_plan_request(
        models.REQUEST_EVACUATION, call.user, host=host, apply=apply)
    return 202, {'plan_request': plan_requests.view(call, request)}
