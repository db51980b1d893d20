# SPDX-License-Identifier: Apache-2.0
"""The audit trail: the ``audit_events`` table.

An append-only list of who (a replica id or a user) did what to which
plan, action, plan request, host or instance, and when. Every change the
other parts of :class:`nova_drs.db.api.Database` make writes its event
with :meth:`AuditMixin._audit` in its own transaction, so the trail has
exactly the changes that happened (a change that lost a compare-and-set
writes none); :meth:`AuditMixin.record_event` adds one for what happens
outside the database (kind ``balancer.*``, ``consolidation.*``...).
Events are never changed, only purged by age
(:meth:`~nova_drs.db.api.Database.purge`).
"""

import sqlalchemy as sa

from nova_drs.db import common
from nova_drs.db import models
from nova_drs.db import retry


class AuditMixin(object):
    """Audit events; mixed into ``Database``."""

    @staticmethod
    def _audit(session, now, actor, kind, object_uuid, message, detail=None):
        """Add an event to ``session``'s transaction: the change's own."""
        event = models.AuditEvent(created_at=now, actor=actor, kind=kind,
                                  object_uuid=object_uuid,
                                  message=message or '', detail=detail)
        session.add(event)
        return event

    @retry.retry_on_deadlock
    def record_event(self, actor, kind, message='', object_uuid=None,
                     detail=None):
        """Add an event to the audit trail (for what has no method here).

        :param kind: dotted, e.g. ``operator.mode``
        :param detail: a JSON-serialisable dict
        """
        now = self.now()
        with self._writer() as session:
            return self._audit(session, now, actor, kind, object_uuid,
                               message, detail)

    def list_events(self, object_uuid=None, kind=None, actor=None,
                    since=None, after_id=None, limit=None,
                    newest_first=False, before_id=None):
        """Audit events, oldest first (``newest_first``: newest first).

        :param kind: a kind, or a prefix ending with a dot (``action.``)
        :param after_id: only events after this one (paging oldest first)
        :param before_id: only events before this one (paging newest
            first)
        """
        query = sa.select(models.AuditEvent)
        if object_uuid is not None:
            query = query.where(models.AuditEvent.object_uuid == object_uuid)
        if kind is not None and kind.endswith('.'):
            query = query.where(models.AuditEvent.kind.startswith(
                kind, autoescape=True))
        elif kind is not None:
            query = query.where(models.AuditEvent.kind == kind)
        if actor is not None:
            query = query.where(models.AuditEvent.actor == actor)
        if since is not None:
            query = query.where(
                models.AuditEvent.created_at >= common.utc(since))
        if after_id is not None:
            query = query.where(models.AuditEvent.id > after_id)
        if before_id is not None:
            query = query.where(models.AuditEvent.id < before_id)
        return self._list(query.order_by(
            models.AuditEvent.id.desc() if newest_first
            else models.AuditEvent.id), limit)
