# SPDX-License-Identifier: Apache-2.0
"""Plans and their actions: the ``plans`` and ``actions`` tables.

A plan and its actions are one aggregate: a plan is stored with its
actions, cancelling or superseding it cancels its pending actions in the
same transaction, and an action starts only while its plan is
``applying``. The states and the changes allowed between them are the
balancer's (:mod:`nova_drs.balancer.plan_states`); the methods of
:class:`PlansMixin` (part of :class:`nova_drs.db.api.Database`) store
them.

**State changes are compare-and-set.** A transition is one ``UPDATE ...
WHERE uuid = :uuid AND state = :expected`` (plus the owner, for an action
that runs) and the method returns whether a row changed: True means this
caller won, False that another replica (or an operator) got there first
or the row is no longer in the expected state. Two replicas that try to
start the same action at the same time cannot both succeed, on any
backend: the database serialises the two UPDATEs on the row, and the
second one no longer matches ``state = 'pending'``. Nothing is read first
and written later, so there is no window between check and write and no
lock held across calls. A transition that the state machine does not
allow is a programming error and raises
:class:`~nova_drs.balancer.plan_states.InvalidTransition`; a missing plan
or action raises :class:`~nova_drs.db.common.NotFound`.

Each successful change also writes an ``audit_events`` row in the same
transaction, so the audit trail has exactly the changes that happened.
"""

import uuid as uuid_lib

import sqlalchemy as sa
from sqlalchemy import orm

from nova_drs.balancer import plan_states
from nova_drs.db import common
from nova_drs.db import models
from nova_drs.db import retry


class PlansMixin(object):
    """Plans and actions; mixed into ``Database``."""

    # -- plans ---------------------------------------------------------------

    @retry.retry_on_deadlock
    def create_plan(self, plan, origin, created_by, supersede=True,
                    plan_uuid=None):
        """Store a strategy's plan, in state ``recommended``.

        :param plan: a :class:`nova_drs.balancer.planning.plan.Plan`; its
            migrations become the plan's actions, in their order, pending
        :param origin: why it was made: one of
            :data:`~nova_drs.db.models.ORIGINS`
        :param created_by: the replica (or user) that made it
        :param supersede: mark the ``recommended`` plans of the same
            origin ``superseded`` (and cancel their actions): they were
            made from an older view of the cluster
        :returns: the :class:`~nova_drs.db.models.Plan`, with its actions
        """
        if origin not in models.ORIGINS:
            raise ValueError('unknown plan origin %r (one of %s)'
                             % (origin, ', '.join(models.ORIGINS)))
        now = self.now()
        row = models.Plan(
            uuid=plan_uuid or str(uuid_lib.uuid4()), strategy=plan.strategy,
            origin=origin, state=plan_states.PLAN_RECOMMENDED, created_at=now,
            updated_at=now, decision_s=float(plan.decision_s),
            unresolved=list(plan.unresolved), created_by=created_by,
            applied_automatically=False)
        row.actions = [
            models.Action(
                uuid=str(uuid_lib.uuid4()), order_index=n,
                instance_uuid=m.instance, source=m.source, target=m.target,
                reason=m.reason or '', transfer_mb=float(m.transfer_mb),
                estimated_s=float(m.duration_s),
                state=plan_states.ACTION_PENDING, created_at=now,
                updated_at=now)
            for n, m in enumerate(plan.migrations)]
        with self._writer() as session:
            if supersede:
                older = session.scalars(
                    sa.select(models.Plan.uuid).where(
                        models.Plan.state == plan_states.PLAN_RECOMMENDED,
                        models.Plan.origin == origin)).all()
                for old in older:
                    self._end_plan(session, now, old,
                                   (plan_states.PLAN_RECOMMENDED,),
                                   plan_states.PLAN_SUPERSEDED, created_by,
                                   'superseded by plan %s' % row.uuid)
            session.add(row)
            self._audit(session, now, created_by, 'plan.created', row.uuid,
                        '%s plan by strategy %s: %d migration(s)'
                        % (origin, plan.strategy, len(row.actions)),
                        {'origin': origin, 'strategy': plan.strategy,
                         'actions': len(row.actions),
                         'unresolved': list(plan.unresolved)})
        return row

    def get_plan(self, plan_uuid, with_actions=True):
        """The plan (with its actions, in order).

        :raises PlanNotFound:
        """
        query = sa.select(models.Plan).where(models.Plan.uuid == plan_uuid)
        if with_actions:
            query = query.options(orm.selectinload(models.Plan.actions))
        rows = self._list(query)
        if not rows:
            raise common.PlanNotFound(plan_uuid)
        return rows[0]

    def list_plans(self, state=None, origin=None, created_by=None,
                   since=None, limit=None, marker=None):
        """Plans, newest first, without their actions.

        :param state: a state or a list of states
        :param origin: an origin or a list of origins
        :param since: only plans created at or after this time
        :param marker: only the plans after this one in that order (the
            last plan of the previous page)
        :raises PlanNotFound: no plan ``marker``
        """
        query = sa.select(models.Plan)
        if marker is not None:
            last = self._get(models.Plan, marker, common.PlanNotFound)
            query = query.where(sa.or_(
                models.Plan.created_at < last.created_at,
                sa.and_(models.Plan.created_at == last.created_at,
                        models.Plan.uuid > last.uuid)))
        query = common.where_in(query, models.Plan.state, state)
        query = common.where_in(query, models.Plan.origin, origin)
        if created_by is not None:
            query = query.where(models.Plan.created_by == created_by)
        if since is not None:
            query = query.where(
                models.Plan.created_at >= common.utc(since))
        return self._list(query.order_by(models.Plan.created_at.desc(),
                                         models.Plan.uuid), limit)

    def _end_plan(self, session, now, plan_uuid, expected, new, actor,
                  reason, automatic=False):
        """Move a plan from one of ``expected`` to ``new``; True if won.

        Cancelling or superseding a plan also cancels its pending
        actions; running ones go on to their end.
        """
        values = {'state': new, 'updated_at': now}
        if new == plan_states.PLAN_APPLYING:
            values['applied_automatically'] = bool(automatic)
        if reason is not None:
            values['state_reason'] = reason
        if new in plan_states.PLAN_FINAL_STATES:
            values['finished_at'] = now
        won = self._update(session, models.Plan,
                           (models.Plan.uuid == plan_uuid,
                            models.Plan.state.in_(expected)), values)
        if not won:
            return False
        detail = {'from': list(expected), 'to': new}
        if new == plan_states.PLAN_APPLYING:
            detail['automatic'] = bool(automatic)
        if new in (plan_states.PLAN_CANCELLED, plan_states.PLAN_SUPERSEDED):
            detail['cancelled_actions'] = self._update(
                session, models.Action,
                (models.Action.plan_uuid == plan_uuid,
                 models.Action.state == plan_states.ACTION_PENDING),
                {'state': plan_states.ACTION_CANCELLED, 'updated_at': now,
                 'finished_at': now})
        self._audit(session, now, actor, 'plan.%s' % new, plan_uuid,
                    reason or 'plan %s' % new, detail)
        return True

    @retry.retry_on_deadlock
    def transition_plan(self, plan_uuid, expected, new, actor, reason=None,
                        automatic=False):
        """Compare-and-set a plan's state; True if this call changed it.

        :param expected: the state the caller saw
        :param new: the state to set; one that
            :data:`~nova_drs.balancer.plan_states.PLAN_TRANSITIONS` allows from
            ``expected``
        :param actor: replica id or user, for the audit trail
        :param reason: stored in ``state_reason`` and the audit event
        :param automatic: to ``applying``: the balancer applies the plan
            by itself (its mode), not on an operator's request; such a
            plan's pending actions wait while balancing is paused
            (``applied_automatically``)
        :raises InvalidTransition: not allowed by the state machine
        :raises PlanNotFound:
        """
        plan_states.check_plan_transition(expected, new)
        now = self.now()
        with self._writer() as session:
            won = self._end_plan(session, now, plan_uuid, (expected,), new,
                                 actor, reason, automatic=automatic)
            if not won:
                common.must_exist(session, models.Plan.uuid, plan_uuid,
                                  common.PlanNotFound)
        return won

    @retry.retry_on_deadlock
    def cancel_plan(self, plan_uuid, actor, reason=None):
        """Cancel a recommended or applying plan; True if this call did.

        Its pending actions are cancelled with it; a running migration is
        not interrupted: it ends in Nova and is recorded as usual.

        :raises PlanNotFound:
        """
        now = self.now()
        with self._writer() as session:
            won = self._end_plan(
                session, now, plan_uuid,
                (plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING),
                plan_states.PLAN_CANCELLED, actor,
                reason or 'cancelled by %s' % actor)
            if not won:
                common.must_exist(session, models.Plan.uuid, plan_uuid,
                                  common.PlanNotFound)
        return won

    @retry.retry_on_deadlock
    def complete_plan(self, plan_uuid, actor):
        """End an applying plan whose actions have all ended.

        :returns: the plan's new state, ``applied`` (every action
            completed) or ``failed`` (one failed, was aborted or was
            cancelled); None when an action is still pending or running,
            or the plan is not applying (another replica ended it)
        :raises PlanNotFound:
        """
        now = self.now()
        with self._writer() as session:
            common.must_exist(session, models.Plan.uuid, plan_uuid,
                              common.PlanNotFound)
            counts = dict(session.execute(
                sa.select(models.Action.state, sa.func.count())
                .where(models.Action.plan_uuid == plan_uuid)
                .group_by(models.Action.state)).all())
            if (counts.get(plan_states.ACTION_PENDING)
                    or counts.get(plan_states.ACTION_RUNNING)):
                return None
            not_done = sum(n for state, n in counts.items()
                           if state != plan_states.ACTION_COMPLETED)
            if not_done:
                new = plan_states.PLAN_FAILED
                reason = ', '.join('%d %s' % (counts[state], state)
                                   for state in plan_states.ACTION_STATES
                                   if counts.get(state))
            else:
                new = plan_states.PLAN_APPLIED
                reason = None
            won = self._end_plan(session, now, plan_uuid,
                                 (plan_states.PLAN_APPLYING,), new, actor,
                                 reason)
        return new if won else None

    # -- actions -------------------------------------------------------------

    def get_action(self, action_uuid):
        """:raises ActionNotFound:"""
        return self._get(models.Action, action_uuid, common.ActionNotFound)

    @staticmethod
    def _action_query(plan_uuid, state, instance_uuid, host):
        """Select the actions matching the listing filters."""
        query = common.where_in(sa.select(models.Action),
                                models.Action.state, state)
        if plan_uuid is not None:
            query = query.where(models.Action.plan_uuid == plan_uuid)
        if instance_uuid is not None:
            query = query.where(models.Action.instance_uuid == instance_uuid)
        if host is not None:
            query = query.where(sa.or_(models.Action.source == host,
                                       models.Action.target == host))
        return query

    def list_actions(self, plan_uuid=None, state=None, instance_uuid=None,
                     host=None, owner=None, limit=None):
        """Actions, oldest plan first, in their plan's order.

        :param state: a state or a list of states
        :param host: actions with this source or target
        """
        query = self._action_query(plan_uuid, state, instance_uuid, host)
        if owner is not None:
            query = query.where(models.Action.owner == owner)
        return self._list(query.order_by(models.Action.created_at,
                                         models.Action.plan_uuid,
                                         models.Action.order_index), limit)

    def list_recent_actions(self, plan_uuid=None, state=None,
                            instance_uuid=None, host=None, limit=None,
                            marker=None):
        """Actions, newest plan first, each plan's in their order.

        The order the API lists migrations in, with keyset paging.

        :param state: a state or a list of states
        :param host: actions with this source or target
        :param marker: only the actions after this one in that order (the
            last action of the previous page)
        :raises ActionNotFound: no action ``marker``
        """
        query = self._action_query(plan_uuid, state, instance_uuid, host)
        if marker is not None:
            last = self._get(models.Action, marker, common.ActionNotFound)
            query = query.where(sa.or_(
                models.Action.created_at < last.created_at,
                sa.and_(models.Action.created_at == last.created_at,
                        sa.or_(models.Action.plan_uuid > last.plan_uuid,
                               sa.and_(models.Action.plan_uuid
                                       == last.plan_uuid,
                                       models.Action.order_index
                                       > last.order_index)))))
        return self._list(query.order_by(models.Action.created_at.desc(),
                                         models.Action.plan_uuid,
                                         models.Action.order_index), limit)

    def count_states(self):
        """How many plans and actions are in each state.

        :returns: ``{'plans': {state: n}, 'actions': {state: n}}`` (states
            without any left out)
        """
        with self._reader() as session:
            plans = dict(session.execute(
                sa.select(models.Plan.state, sa.func.count())
                .group_by(models.Plan.state)).all())
            actions = dict(session.execute(
                sa.select(models.Action.state, sa.func.count())
                .group_by(models.Action.state)).all())
        return {'plans': plans, 'actions': actions}

    @retry.retry_on_deadlock
    def start_action(self, action_uuid, owner):
        """pending -> running, owned by ``owner``; True if this call won.

        Only an action of an ``applying`` plan starts. Call it before
        asking Nova for the migration: the replica that gets True is the
        only one that may.

        :raises ActionNotFound:
        """
        now = self.now()
        applying = sa.select(models.Plan.uuid).where(
            models.Plan.state == plan_states.PLAN_APPLYING)
        with self._writer() as session:
            won = self._update(
                session, models.Action,
                (models.Action.uuid == action_uuid,
                 models.Action.state == plan_states.ACTION_PENDING,
                 models.Action.plan_uuid.in_(applying)),
                {'state': plan_states.ACTION_RUNNING, 'owner': owner,
                 'started_at': now, 'heartbeat_at': now, 'updated_at': now})
            if won:
                self._audit(session, now, owner, 'action.running',
                            action_uuid, 'started by %s' % owner)
            else:
                common.must_exist(session, models.Action.uuid, action_uuid,
                                  common.ActionNotFound)
        return bool(won)

    @staticmethod
    def _running_and_owned(action_uuid, owner):
        return (models.Action.uuid == action_uuid,
                models.Action.state == plan_states.ACTION_RUNNING,
                models.Action.owner == owner)

    def _update_running(self, action_uuid, owner, now, values, nova_status,
                        event=None):
        """Change a running action ``owner`` owns; False if it no longer is.

        The owner's heartbeat moves to ``now`` with the change.

        :param event: ``(kind, message, detail)`` of the audit event the
            change writes, if any
        """
        values.update(heartbeat_at=now, updated_at=now)
        if nova_status is not None:
            values['nova_status'] = nova_status
        with self._writer() as session:
            won = self._update(session, models.Action,
                               self._running_and_owned(action_uuid, owner),
                               values)
            if won and event:
                kind, message, detail = event
                self._audit(session, now, owner, kind, action_uuid, message,
                            detail)
        return bool(won)

    @retry.retry_on_deadlock
    def set_migration(self, action_uuid, owner, migration_id,
                      migration_uuid=None, nova_status=None):
        """Record Nova's migration for a running action.

        :returns: False when the action is no longer running or no longer
            owned by ``owner`` (another replica took it over)
        """
        values = {'migration_id': migration_id}
        if migration_uuid is not None:
            values['migration_uuid'] = migration_uuid
        return self._update_running(
            action_uuid, owner, self.now(), values, nova_status,
            ('action.migration', 'Nova migration %s' % migration_id,
             {'migration_id': migration_id,
              'migration_uuid': migration_uuid}))

    @retry.retry_on_deadlock
    def heartbeat(self, action_uuid, owner, nova_status=None):
        """The owner still follows this running action.

        :returns: False when it is no longer running or no longer owned by
            ``owner``: stop following it
        """
        return self._update_running(action_uuid, owner, self.now(), {},
                                    nova_status)

    @retry.retry_on_deadlock
    def finish_action(self, action_uuid, owner, state, error=None,
                      nova_status=None, finished_at=None):
        """running -> ``state`` (completed, failed or aborted).

        :param owner: only the owner may end it
        :param finished_at: when Nova's migration ended (default: now)
        :returns: False when the action is no longer running or owned by
            someone else
        :raises InvalidTransition: ``state`` is not a state a running
            action may end in
        """
        plan_states.check_action_transition(plan_states.ACTION_RUNNING,
                                            state)
        now = self.now()
        detail = {'nova_status': nova_status}
        if error:
            detail['error'] = error
        return self._update_running(
            action_uuid, owner, now,
            {'state': state, 'finished_at': common.utc(finished_at) or now,
             'error': error}, nova_status,
            ('action.%s' % state, error or 'migration %s' % state, detail))

    def find_in_flight(self, hosts, stale_before=None, exclude_owner=None):
        """Running actions from or to one of ``hosts``, oldest first.

        What a replica looks for when it becomes the owner of hosts
        (at start, or when another replica went away): migrations that
        were started and not seen to end. Follow each one in Nova after
        winning :meth:`take_over`.

        :param stale_before: only actions whose owner's last heartbeat is
            older than this (or missing)
        :param exclude_owner: leave out the actions this replica owns
        """
        hosts = list(hosts)
        if not hosts:
            return []
        query = sa.select(models.Action).where(
            models.Action.state == plan_states.ACTION_RUNNING,
            sa.or_(models.Action.source.in_(hosts),
                   models.Action.target.in_(hosts)))
        if stale_before is not None:
            query = query.where(sa.or_(
                models.Action.heartbeat_at.is_(None),
                models.Action.heartbeat_at < common.utc(stale_before)))
        if exclude_owner is not None:
            query = query.where(models.Action.owner != exclude_owner)
        return self._list(query.order_by(models.Action.started_at,
                                         models.Action.uuid))

    @retry.retry_on_deadlock
    def take_over(self, action_uuid, new_owner, expected_owner,
                  stale_before=None):
        """Become the owner of a running action; True if this call won.

        :param expected_owner: the owner the caller saw
            (:meth:`find_in_flight`); if it changed (another replica took
            it over, or the owner's heartbeat moved on), nothing happens
        :param stale_before: also require the last heartbeat to be older
            than this: the owner really stopped
        :raises ActionNotFound:
        """
        now = self.now()
        where = list(self._running_and_owned(action_uuid, expected_owner))
        if stale_before is not None:
            where.append(sa.or_(
                models.Action.heartbeat_at.is_(None),
                models.Action.heartbeat_at < common.utc(stale_before)))
        with self._writer() as session:
            won = self._update(session, models.Action, where,
                               {'owner': new_owner, 'heartbeat_at': now,
                                'updated_at': now})
            if won:
                self._audit(session, now, new_owner, 'action.takeover',
                            action_uuid,
                            'taken over from %s' % expected_owner,
                            {'from': expected_owner, 'to': new_owner})
            else:
                common.must_exist(session, models.Action.uuid, action_uuid,
                                  common.ActionNotFound)
        return bool(won)
