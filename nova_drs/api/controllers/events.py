# SPDX-License-Identifier: Apache-2.0
"""The audit trail: what the balancer's replicas and the operators did.

``GET /v1/events`` (microversion 1.3). Every change the database makes
to a plan, a migration, a plan request, a bad (instance, host) pair or the
operator's settings writes an event in the same transaction
(doc/source/database.rst, "Audit trail"), so this list is what happened, in
order, with who did it: a replica's id or the user's id. Events are
purged with the rest of the history (``nova-drs-manage db purge``).
"""

from oslo_utils import timeutils

from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import microversion
from nova_drs.api import paging

#: the first version with the audit trail
VERSION = microversion.Version(1, 3)


def view(row):
    return {
        'id': row.id,
        'created_at': fields.isotime(row.created_at),
        'actor': row.actor,
        'kind': row.kind,
        'object_uuid': row.object_uuid,
        'message': row.message,
        'detail': row.detail or {},
    }


def index(call):
    microversion.require(call.version, VERSION, 'GET /v1/events')
    query = call.query
    size = paging.page_size(call)
    newest_first = query.get('sort_dir', 'desc') == 'desc'
    marker = int(query['marker']) if 'marker' in query else None
    rows = call.db.list_events(
        object_uuid=_lower(query.get('object')), kind=query.get('kind'),
        actor=query.get('actor'), since=_since(query.get('since')),
        newest_first=newest_first,
        before_id=marker if newest_first else None,
        after_id=None if newest_first else marker,
        limit=size + 1)
    rows, links = paging.page(call, rows, lambda r: str(r.id), size)
    return 200, {'events': [view(r) for r in rows], 'links': links}


def _since(text):
    if text is None:
        return None
    try:
        return timeutils.parse_isotime(text)
    except ValueError:
        raise errors.BadRequest(
            'since: %r is not an ISO 8601 time with a time zone' % text) \
            from None


def _lower(value):
    return value.lower() if value else value
