# SPDX-License-Identifier: Apache-2.0
"""Bad (instance, target host) pairs: the ``failed_pairs`` table.

When Nova fails, refuses or aborts a live migration of an instance to a
host, the executor marks the pair for ``[drs_actuator]
bad_pair_duration`` seconds, and the planner leaves it out of its plans
until then. One row per pair with its expiry; marking a pair again keeps
the later expiry, so replicas that saw the same failure agree. Expired
rows are ignored by :meth:`BadPairsMixin.bad_pairs` and deleted by
:meth:`~nova_drs.db.api.Database.purge`.
"""

import datetime

import sqlalchemy as sa

from nova_drs.db import models
from nova_drs.db import retry


class BadPairsMixin(object):
    """Failed (instance, target) pairs; mixed into ``Database``."""

    @retry.retry_on_deadlock_or_duplicate
    def mark_bad_pair(self, instance_uuid, target, duration_s, reason=None,
                      actor=None):
        """Do not try ``instance_uuid`` on ``target`` for ``duration_s``.

        A pair already marked keeps the later of its two expiries.

        :returns: when the pair may be tried again
        """
        now = self.now()
        until = now + datetime.timedelta(seconds=duration_s)
        key = (models.FailedPair.instance_uuid == instance_uuid,
               models.FailedPair.target == target)
        with self._writer() as session:
            changed = self._update(
                session, models.FailedPair,
                key + (models.FailedPair.until < until,),
                {'until': until, 'reason': reason, 'created_at': now})
            if not changed:
                current = session.scalar(
                    sa.select(models.FailedPair.until).where(*key))
                if current is not None:
                    return current
                # NOTE: a concurrent insert of the same pair makes the
                # commit fail with DBDuplicateEntry; the retry updates.
                session.add(models.FailedPair(
                    instance_uuid=instance_uuid, target=target, until=until,
                    created_at=now, reason=reason))
            self._audit(session, now, actor or 'nova-drs', 'pair.bad',
                        instance_uuid,
                        'no migration to %s before %s'
                        % (target, until.isoformat()),
                        {'target': target, 'until': until.isoformat(),
                         'reason': reason})
        return until

    def bad_pairs(self, instance_uuids=None):
        """Unexpired bad pairs: ``{(instance_uuid, target): until}``."""
        query = sa.select(models.FailedPair).where(
            models.FailedPair.until > self.now())
        if instance_uuids is not None:
            query = query.where(models.FailedPair.instance_uuid.in_(
                list(instance_uuids)))
        with self._reader() as session:
            return {(p.instance_uuid, p.target): p.until
                    for p in session.scalars(query)}
