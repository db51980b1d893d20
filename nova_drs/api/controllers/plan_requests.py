# SPDX-License-Identifier: Apache-2.0
"""Operators' requests for a plan, answered by a balancer replica.

``POST /v1/plans`` and ``POST /v1/hosts/{host}/evacuate`` store a request
and answer 202 at once; the client follows it here until it is ``done``
(with the plan's uuid) or ``failed`` (with the error).
"""

from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import microversion
from nova_drs.db import api as db_api
from nova_drs.db import models

#: the first version that shows claims
CLAIMS_VERSION = microversion.Version(1, 1)


def view(call, row):
    state = row.state
    shows_claims = call.version >= CLAIMS_VERSION
    if state == models.REQUEST_CLAIMED and not shows_claims:
        # NOTE: 1.0 knows pending, done and failed: a claimed request
        # is still being worked on
        state = models.REQUEST_PENDING
    body = {
        'uuid': row.uuid,
        'kind': row.kind,
        'strategy': row.strategy,
        'host': row.host,
        'apply': bool(row.apply),
        'state': state,
        'plan_uuid': row.plan_uuid,
        'error': row.error,
        'created_at': fields.isotime(row.created_at),
        'updated_at': fields.isotime(row.updated_at),
        'created_by': row.created_by,
    }
    if shows_claims:
        body['claimed_by'] = row.claimed_by
        body['claimed_at'] = fields.isotime(row.claimed_at)
    return body


def show(call, uuid):
    try:
        row = call.db.get_plan_request(uuid)
    except db_api.PlanRequestNotFound:
        raise errors.NotFound('plan request %s not found' % uuid) from None
    return 200, {'plan_request': view(call, row)}
