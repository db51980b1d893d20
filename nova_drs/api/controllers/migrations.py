# SPDX-License-Identifier: Apache-2.0
"""The balancer's live migrations (the ``actions`` of its plans)."""

from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import paging
from nova_drs.db import api as db_api


def view(row):
    return {
        'uuid': row.uuid,
        'plan_uuid': row.plan_uuid,
        'instance_uuid': row.instance_uuid,
        'source': row.source,
        'target': row.target,
        'reason': row.reason,
        'state': row.state,
        'owner': row.owner,
        'transfer_mb': row.transfer_mb,
        'estimated_s': row.estimated_s,
        'created_at': fields.isotime(row.created_at),
        'started_at': fields.isotime(row.started_at),
        'finished_at': fields.isotime(row.finished_at),
        'duration_s': fields.seconds_between(row.started_at,
                                             row.finished_at),
        'migration_id': row.migration_id,
        'migration_uuid': row.migration_uuid,
        'nova_status': row.nova_status,
        'error': row.error,
    }


def index(call):
    query = call.query
    size = paging.page_size(call)
    try:
        rows = call.db.list_recent_actions(
            plan_uuid=_lower(query.get('plan')), state=query.get('state'),
            instance_uuid=_lower(query.get('instance')),
            host=query.get('host'), marker=_lower(query.get('marker')),
            limit=size + 1)
    except db_api.ActionNotFound as e:
        raise errors.BadRequest('marker migration %s not found'
                                % e.uuid) from None
    rows, links = paging.page(call, rows, lambda r: r.uuid, size)
    return 200, {'migrations': [view(r) for r in rows], 'links': links}


def show(call, uuid):
    try:
        row = call.db.get_action(uuid)
    except db_api.ActionNotFound:
        raise errors.NotFound('migration %s not found' % uuid) from None
    return 200, {'migration': view(row)}


def _lower(value):
    return value.lower() if value else value
