# SPDX-License-Identifier: Apache-2.0
"""Operators' requests for a plan: the ``plan_requests`` table.

The API does not plan: ``POST /v1/plans`` and ``POST
/v1/hosts/{host}/evacuate`` store a request, and a balancer replica,
which has a live view of the cluster, makes the plan. The table is the
queue between them::

    pending ──> claimed ──> done     (plan_uuid set)
       ^           ├──────> failed   (error set)
       └───────────┘  claim older than the limit: released

Claiming is compare-and-set (one replica wins a request); only the
claimer may finish it, and a claim whose replica died goes back to
``pending`` (:meth:`PlanRequestsMixin.release_stale_plan_requests`).
"""

import uuid as uuid_lib

import sqlalchemy as sa

from nova_drs.db import common
from nova_drs.db import models
from nova_drs.db import retry


class PlanRequestsMixin(object):
    """Plan requests; mixed into ``Database``."""

    @retry.retry_on_deadlock
    def create_plan_request(self, kind, created_by, strategy=None,
                            host=None, apply=False):
        """Store an operator's request for a plan, ``pending``.

        :param kind: ``plan`` (a dry-run plan by ``strategy``) or
            ``evacuation`` (live-migrate everything off ``host``)
        :param created_by: the user who asked
        :param strategy: the strategy to plan with (None: the balancer's
            configured one)
        :param host: the host to evacuate (evacuations only)
        :param apply: apply the plan at once, instead of storing it
            ``recommended``
        :returns: the :class:`~nova_drs.db.models.PlanRequest`
        :raises ValueError: unknown kind, or an evacuation without a host
        """
        if kind not in models.REQUEST_KINDS:
            raise ValueError('unknown plan request kind %r (one of %s)'
                             % (kind, ', '.join(models.REQUEST_KINDS)))
        if kind == models.REQUEST_EVACUATION and not host:
            raise ValueError('an evacuation request needs a host')
        now = self.now()
        row = models.PlanRequest(
            uuid=str(uuid_lib.uuid4()), kind=kind, strategy=strategy,
            host=host, apply=bool(apply), state=models.REQUEST_PENDING,
            created_at=now, updated_at=now, created_by=created_by)
        with self._writer() as session:
            session.add(row)
            self._audit(session, now, created_by, 'plan_request.created',
                        row.uuid,
                        '%s request%s' % (kind, ' for %s' % host
                                          if host else ''),
                        {'kind': kind, 'strategy': strategy, 'host': host,
                         'apply': bool(apply)})
        return row

    def get_plan_request(self, request_uuid):
        """:raises PlanRequestNotFound:"""
        return self._get(models.PlanRequest, request_uuid,
                         common.PlanRequestNotFound)

    def list_plan_requests(self, state=None, kind=None, limit=None):
        """Plan requests, oldest first (the order to work on them).

        :param state: a state or a list of states
        :param kind: a kind or a list of kinds
        """
        query = common.where_in(sa.select(models.PlanRequest),
                                models.PlanRequest.state, state)
        query = common.where_in(query, models.PlanRequest.kind, kind)
        return self._list(query.order_by(models.PlanRequest.created_at,
                                         models.PlanRequest.uuid), limit)

    @retry.retry_on_deadlock
    def claim_plan_request(self, request_uuid, replica):
        """pending -> claimed by ``replica``; True if this call won.

        Only the replica that gets True works on the request.

        :raises PlanRequestNotFound:
        """
        now = self.now()
        with self._writer() as session:
            won = self._update(
                session, models.PlanRequest,
                (models.PlanRequest.uuid == request_uuid,
                 models.PlanRequest.state == models.REQUEST_PENDING),
                {'state': models.REQUEST_CLAIMED, 'claimed_by': replica,
                 'claimed_at': now, 'updated_at': now})
            if won:
                self._audit(session, now, replica, 'plan_request.claimed',
                            request_uuid, 'claimed by %s' % replica)
            else:
                common.must_exist(session, models.PlanRequest.uuid,
                                  request_uuid, common.PlanRequestNotFound)
        return bool(won)

    @retry.retry_on_deadlock
    def finish_plan_request(self, request_uuid, replica, plan_uuid=None,
                            error=None):
        """claimed -> ``done`` (with the plan) or ``failed`` (``error``).

        :param replica: only the replica holding the claim may finish it
        :returns: False when the request is not claimed by ``replica``
            (its claim was released as stale, and maybe claimed again)
        :raises PlanRequestNotFound:
        """
        state = models.REQUEST_FAILED if error else models.REQUEST_DONE
        now = self.now()
        with self._writer() as session:
            won = self._update(
                session, models.PlanRequest,
                (models.PlanRequest.uuid == request_uuid,
                 models.PlanRequest.state == models.REQUEST_CLAIMED,
                 models.PlanRequest.claimed_by == replica),
                {'state': state, 'plan_uuid': plan_uuid, 'error': error,
                 'updated_at': now})
            if won:
                self._audit(session, now, replica, 'plan_request.%s' % state,
                            request_uuid,
                            error or 'plan %s' % plan_uuid,
                            {'plan_uuid': plan_uuid, 'error': error})
            else:
                common.must_exist(session, models.PlanRequest.uuid,
                                  request_uuid, common.PlanRequestNotFound)
        return bool(won)

    @retry.retry_on_deadlock
    def release_stale_plan_requests(self, before):
        """Claims older than ``before`` go back to ``pending``.

        The replica that claimed them died or hung; another one may claim
        them now. A late ``finish_plan_request`` of the old claimer then
        returns False.

        :returns: the number of requests released
        """
        before = common.utc(before)
        now = self.now()
        where = (models.PlanRequest.state == models.REQUEST_CLAIMED,
                 models.PlanRequest.claimed_at < before)
        with self._writer() as session:
            stale = list(session.execute(
                sa.select(models.PlanRequest.uuid,
                          models.PlanRequest.claimed_by).where(*where)))
            released = 0
            for request_uuid, claimer in stale:
                # NOTE: per row, compare-and-set on the claimer: a claim
                # finished meanwhile is left alone
                if self._update(
                        session, models.PlanRequest,
                        where + (models.PlanRequest.uuid == request_uuid,
                                 models.PlanRequest.claimed_by == claimer),
                        {'state': models.REQUEST_PENDING,
                         'claimed_by': None, 'claimed_at': None,
                         'updated_at': now}):
                    released += 1
                    self._audit(session, now, 'nova-drs',
                                'plan_request.released', request_uuid,
                                'claim of %s expired' % claimer,
                                {'claimed_by': claimer})
        return released
