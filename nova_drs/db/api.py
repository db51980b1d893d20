# SPDX-License-Identifier: Apache-2.0
"""Reading and writing the balancer's state: :class:`Database`.

Every method is one database transaction (oslo.db's enginefacade), so a
balancer that dies between two calls leaves a consistent state behind.

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
allow (:data:`~nova_drs.db.models.PLAN_TRANSITIONS`,
:data:`~nova_drs.db.models.ACTION_TRANSITIONS`) is a programming error
and raises :class:`InvalidTransition`; a missing plan or action raises
:class:`NotFound`.

Each successful change also writes an ``audit_events`` row in the same
transaction, so the audit trail has exactly the changes that happened.

Times are naive UTC datetimes. Aware datetimes given as arguments are
converted.
"""

import collections.abc
import datetime
import math
import uuid as uuid_lib

from oslo_db.sqlalchemy import enginefacade
from oslo_log import log as logging
from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy import orm

from nova_drs.conf import database as db_conf
from nova_drs.db import control
from nova_drs.db import models
from nova_drs.db import retry

LOG = logging.getLogger(__name__)

#: The action state for Nova's final migration status (and the actuator's
#: ``rejected``); ``unknown`` has none: the migration may still be running
#: and must be followed again.
ACTION_STATE_FOR_NOVA_STATUS = {
    'completed': models.ACTION_COMPLETED,
    'done': models.ACTION_COMPLETED,
    'cancelled': models.ACTION_ABORTED,
    'error': models.ACTION_FAILED,
    'failed': models.ACTION_FAILED,
    'rejected': models.ACTION_FAILED,
}

#: The resources a host state may name, in this order (the cluster model's).
HOST_RESOURCES = ('cpu', 'memory', 'disk', 'network')

#: Rows written, read or deleted per statement: well below every backend's
#: limit on bound parameters (SQLite's is the lowest).
HOST_STATE_CHUNK = 500

DEADLOCK_RETRIES = retry.DEADLOCK_RETRIES
_retry_on_deadlock = retry.retry_on_deadlock
_retry_on_deadlock_or_duplicate = retry.retry_on_deadlock_or_duplicate


class DatabaseNotConfigured(Exception):
    """``[drs_database] connection`` is empty."""


class NotFound(Exception):
    """No plan or action with this uuid."""


class PlanNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('plan %s not found' % uuid)
        self.uuid = uuid


class ActionNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('action %s not found' % uuid)
        self.uuid = uuid


class PlanRequestNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('plan request %s not found' % uuid)
        self.uuid = uuid


class InvalidTransition(ValueError):
    """The state machine does not allow this change."""


@enginefacade.transaction_context_provider
class _Context(object):
    """Carries the session enginefacade opens for one call."""


def create_context_manager(conf=None, connection=None, max_retries=None):
    """An enginefacade transaction context for the balancer's database.

    :param conf: configuration with ``[drs_database]``
        (:mod:`nova_drs.conf.database`); without it, the options' defaults
    :param connection: database URL, overriding
        ``[drs_database] connection``
    :param max_retries: connection attempts at engine creation, overriding
        ``[drs_database] max_retries`` (the API answers a request at once)
    :raises DatabaseNotConfigured: no URL
    """
    # NOTE: enginefacade reads what it is not given from the global
    # cfg.CONF's [database] group, which may be Nova's (nova.conf): give it
    # everything it would read there.
    kwargs = {opt.name: opt.default for opt in db_conf.DATABASE_OPTS}
    kwargs.update({'connection': None, 'slave_connection': None,
                   'asyncio_connection': None,
                   'asyncio_slave_connection': None,
                   'mysql_wsrep_sync_wait': None,
                   'synchronous_reader': True,
                   # SQLite enforces foreign keys only when asked to
                   'sqlite_fk': True})
    if conf is not None:
        group = conf.drs_database
        kwargs.update((name, group[name]) for name in db_conf.OPT_NAMES)
    if connection is not None:
        kwargs['connection'] = connection
    if max_retries is not None:
        kwargs['max_retries'] = max_retries
    if not kwargs.get('connection'):
        raise DatabaseNotConfigured('[drs_database] connection is not set')
    # an empty SQL mode keeps the server's (oslo.db would set it empty)
    kwargs['mysql_sql_mode'] = kwargs['mysql_sql_mode'] or None
    if kwargs['connection'].startswith('sqlite'):
        # NOTE: oslo.db gives SQLite files a NullPool, which rejects a
        # pool_timeout
        kwargs['pool_timeout'] = None
    context_manager = enginefacade.transaction_context()
    context_manager.configure(**kwargs)
    return context_manager


def _utc(value):
    if value is None:
        return None
    return timeutils.normalize_time(value)


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class Database(control.ControlMixin):
    """The balancer's database, through oslo.db's enginefacade.

    One instance per process is enough; it is thread-safe (each call uses
    its own session and transaction) and keeps a connection pool.

    :param conf: configuration with ``[drs_database]``
    :param connection: database URL overriding the configuration
    :param clock: returns the current time as a naive UTC datetime (tests
        replace it)
    :param max_retries: see :func:`create_context_manager`
    """

    def __init__(self, conf=None, connection=None, clock=timeutils.utcnow,
                 max_retries=None):
        self._context_manager = create_context_manager(conf, connection,
                                                       max_retries)
        self._clock = clock

    @property
    def engine(self):
        """The SQLAlchemy engine (created on first use)."""
        return self._context_manager.writer.get_engine()

    def dispose(self):
        """Close the pooled connections."""
        self._context_manager.dispose_pool()

    def now(self):
        return _utc(self._clock())

    def _writer(self):
        return self._context_manager.writer.using(_Context())

    def _reader(self):
        return self._context_manager.reader.using(_Context())

    @staticmethod
    def _audit(session, now, actor, kind, object_uuid, message, detail=None):
        event = models.AuditEvent(created_at=now, actor=actor, kind=kind,
                                  object_uuid=object_uuid,
                                  message=message or '', detail=detail)
        session.add(event)
        return event

    @staticmethod
    def _update(session, model, where, values):
        """One UPDATE; the number of rows it changed."""
        stmt = (sa.update(model).where(*where).values(**values)
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount

    # -- plans ---------------------------------------------------------------

    @_retry_on_deadlock
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
            origin=origin, state=models.PLAN_RECOMMENDED, created_at=now,
            updated_at=now, decision_s=float(plan.decision_s),
            unresolved=list(plan.unresolved), created_by=created_by,
            applied_automatically=False)
        row.actions = [
            models.Action(
                uuid=str(uuid_lib.uuid4()), order_index=n,
                instance_uuid=m.instance, source=m.source, target=m.target,
                reason=m.reason or '', transfer_mb=float(m.transfer_mb),
                estimated_s=float(m.duration_s),
                state=models.ACTION_PENDING, created_at=now, updated_at=now)
            for n, m in enumerate(plan.migrations)]
        with self._writer() as session:
            if supersede:
                older = session.scalars(
                    sa.select(models.Plan.uuid).where(
                        models.Plan.state == models.PLAN_RECOMMENDED,
                        models.Plan.origin == origin)).all()
                for old in older:
                    self._end_plan(session, now, old,
                                   (models.PLAN_RECOMMENDED,),
                                   models.PLAN_SUPERSEDED, created_by,
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
        with self._reader() as session:
            query = sa.select(models.Plan).where(
                models.Plan.uuid == plan_uuid)
            if with_actions:
                query = query.options(orm.selectinload(models.Plan.actions))
            row = session.scalars(query).first()
        if row is None:
            raise PlanNotFound(plan_uuid)
        return row

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
            with self._reader() as session:
                last = session.get(models.Plan, marker)
            if last is None:
                raise PlanNotFound(marker)
            query = query.where(sa.or_(
                models.Plan.created_at < last.created_at,
                sa.and_(models.Plan.created_at == last.created_at,
                        models.Plan.uuid > last.uuid)))
        states, origins = _as_list(state), _as_list(origin)
        if states is not None:
            query = query.where(models.Plan.state.in_(states))
        if origins is not None:
            query = query.where(models.Plan.origin.in_(origins))
        if created_by is not None:
            query = query.where(models.Plan.created_by == created_by)
        if since is not None:
            query = query.where(models.Plan.created_at >= _utc(since))
        query = query.order_by(models.Plan.created_at.desc(),
                               models.Plan.uuid)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

    def _plan_exists(self, session, plan_uuid):
        if session.scalar(sa.select(models.Plan.uuid).where(
                models.Plan.uuid == plan_uuid)) is None:
            raise PlanNotFound(plan_uuid)

    def _end_plan(self, session, now, plan_uuid, expected, new, actor,
                  reason, automatic=False):
        """Move a plan from one of ``expected`` to ``new``; True if won.

        Cancelling or superseding a plan also cancels its pending
        actions; running ones go on to their end.
        """
        values = {'state': new, 'updated_at': now}
        if new == models.PLAN_APPLYING:
            values['applied_automatically'] = bool(automatic)
        if reason is not None:
            values['state_reason'] = reason
        if new in models.PLAN_FINAL_STATES:
            values['finished_at'] = now
        won = self._update(session, models.Plan,
                           (models.Plan.uuid == plan_uuid,
                            models.Plan.state.in_(expected)), values)
        if not won:
            return False
        detail = {'from': list(expected), 'to': new}
        if new == models.PLAN_APPLYING:
            detail['automatic'] = bool(automatic)
        if new in (models.PLAN_CANCELLED, models.PLAN_SUPERSEDED):
            detail['cancelled_actions'] = self._update(
                session, models.Action,
                (models.Action.plan_uuid == plan_uuid,
                 models.Action.state == models.ACTION_PENDING),
                {'state': models.ACTION_CANCELLED, 'updated_at': now,
                 'finished_at': now})
        self._audit(session, now, actor, 'plan.%s' % new, plan_uuid,
                    reason or 'plan %s' % new, detail)
        return True

    @_retry_on_deadlock
    def transition_plan(self, plan_uuid, expected, new, actor, reason=None,
                        automatic=False):
        """Compare-and-set a plan's state; True if this call changed it.

        :param expected: the state the caller saw
        :param new: the state to set; one that
            :data:`~nova_drs.db.models.PLAN_TRANSITIONS` allows from
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
        if new not in models.PLAN_TRANSITIONS.get(expected, ()):
            raise InvalidTransition('plan: %s -> %s is not allowed'
                                    % (expected, new))
        now = self.now()
        with self._writer() as session:
            won = self._end_plan(session, now, plan_uuid, (expected,), new,
                                 actor, reason, automatic=automatic)
            if not won:
                self._plan_exists(session, plan_uuid)
        return won

    @_retry_on_deadlock
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
                (models.PLAN_RECOMMENDED, models.PLAN_APPLYING),
                models.PLAN_CANCELLED, actor,
                reason or 'cancelled by %s' % actor)
            if not won:
                self._plan_exists(session, plan_uuid)
        return won

    @_retry_on_deadlock
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
            self._plan_exists(session, plan_uuid)
            counts = dict(session.execute(
                sa.select(models.Action.state, sa.func.count())
                .where(models.Action.plan_uuid == plan_uuid)
                .group_by(models.Action.state)).all())
            if (counts.get(models.ACTION_PENDING)
                    or counts.get(models.ACTION_RUNNING)):
                return None
            not_done = sum(n for state, n in counts.items()
                           if state != models.ACTION_COMPLETED)
            if not_done:
                new = models.PLAN_FAILED
                reason = ', '.join('%d %s' % (counts[state], state)
                                   for state in models.ACTION_STATES
                                   if counts.get(state))
            else:
                new = models.PLAN_APPLIED
                reason = None
            won = self._end_plan(session, now, plan_uuid,
                                 (models.PLAN_APPLYING,), new, actor, reason)
        return new if won else None

    # -- actions -------------------------------------------------------------

    def get_action(self, action_uuid):
        """:raises ActionNotFound:"""
        with self._reader() as session:
            row = session.get(models.Action, action_uuid)
        if row is None:
            raise ActionNotFound(action_uuid)
        return row

    @staticmethod
    def _action_query(plan_uuid, state, instance_uuid, host):
        """Select the actions matching the listing filters."""
        query = sa.select(models.Action)
        states = _as_list(state)
        if plan_uuid is not None:
            query = query.where(models.Action.plan_uuid == plan_uuid)
        if states is not None:
            query = query.where(models.Action.state.in_(states))
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
        query = query.order_by(models.Action.created_at,
                               models.Action.plan_uuid,
                               models.Action.order_index)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

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
            with self._reader() as session:
                last = session.get(models.Action, marker)
            if last is None:
                raise ActionNotFound(marker)
            query = query.where(sa.or_(
                models.Action.created_at < last.created_at,
                sa.and_(models.Action.created_at == last.created_at,
                        sa.or_(models.Action.plan_uuid > last.plan_uuid,
                               sa.and_(models.Action.plan_uuid
                                       == last.plan_uuid,
                                       models.Action.order_index
                                       > last.order_index)))))
        query = query.order_by(models.Action.created_at.desc(),
                               models.Action.plan_uuid,
                               models.Action.order_index)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

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

    def _action_exists(self, session, action_uuid):
        if session.scalar(sa.select(models.Action.uuid).where(
                models.Action.uuid == action_uuid)) is None:
            raise ActionNotFound(action_uuid)

    @_retry_on_deadlock
    def start_action(self, action_uuid, owner):
        """pending -> running, owned by ``owner``; True if this call won.

        Only an action of an ``applying`` plan starts. Call it before
        asking Nova for the migration: the replica that gets True is the
        only one that may.

        :raises ActionNotFound:
        """
        now = self.now()
        applying = sa.select(models.Plan.uuid).where(
            models.Plan.state == models.PLAN_APPLYING)
        with self._writer() as session:
            won = self._update(
                session, models.Action,
                (models.Action.uuid == action_uuid,
                 models.Action.state == models.ACTION_PENDING,
                 models.Action.plan_uuid.in_(applying)),
                {'state': models.ACTION_RUNNING, 'owner': owner,
                 'started_at': now, 'heartbeat_at': now, 'updated_at': now})
            if won:
                self._audit(session, now, owner, 'action.running',
                            action_uuid, 'started by %s' % owner)
            else:
                self._action_exists(session, action_uuid)
        return bool(won)

    def _running_and_owned(self, action_uuid, owner):
        return (models.Action.uuid == action_uuid,
                models.Action.state == models.ACTION_RUNNING,
                models.Action.owner == owner)

    @_retry_on_deadlock
    def set_migration(self, action_uuid, owner, migration_id,
                      migration_uuid=None, nova_status=None):
        """Record Nova's migration for a running action.

        :returns: False when the action is no longer running or no longer
            owned by ``owner`` (another replica took it over)
        """
        now = self.now()
        values = {'migration_id': migration_id, 'heartbeat_at': now,
                  'updated_at': now}
        if migration_uuid is not None:
            values['migration_uuid'] = migration_uuid
        if nova_status is not None:
            values['nova_status'] = nova_status
        with self._writer() as session:
            won = self._update(session, models.Action,
                               self._running_and_owned(action_uuid, owner),
                               values)
            if won:
                self._audit(session, now, owner, 'action.migration',
                            action_uuid,
                            'Nova migration %s' % migration_id,
                            {'migration_id': migration_id,
                             'migration_uuid': migration_uuid})
        return bool(won)

    @_retry_on_deadlock
    def heartbeat(self, action_uuid, owner, nova_status=None):
        """The owner still follows this running action.

        :returns: False when it is no longer running or no longer owned by
            ``owner``: stop following it
        """
        now = self.now()
        values = {'heartbeat_at': now, 'updated_at': now}
        if nova_status is not None:
            values['nova_status'] = nova_status
        with self._writer() as session:
            return bool(self._update(
                session, models.Action,
                self._running_and_owned(action_uuid, owner), values))

    @_retry_on_deadlock
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
        if state not in models.ACTION_TRANSITIONS[models.ACTION_RUNNING]:
            raise InvalidTransition('action: running -> %s is not allowed'
                                    % state)
        now = self.now()
        values = {'state': state, 'updated_at': now, 'heartbeat_at': now,
                  'finished_at': _utc(finished_at) or now, 'error': error}
        if nova_status is not None:
            values['nova_status'] = nova_status
        with self._writer() as session:
            won = self._update(session, models.Action,
                               self._running_and_owned(action_uuid, owner),
                               values)
            if won:
                detail = {'nova_status': nova_status}
                if error:
                    detail['error'] = error
                self._audit(session, now, owner, 'action.%s' % state,
                            action_uuid, error or 'migration %s' % state,
                            detail)
        return bool(won)

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
            models.Action.state == models.ACTION_RUNNING,
            sa.or_(models.Action.source.in_(hosts),
                   models.Action.target.in_(hosts)))
        if stale_before is not None:
            query = query.where(sa.or_(
                models.Action.heartbeat_at.is_(None),
                models.Action.heartbeat_at < _utc(stale_before)))
        if exclude_owner is not None:
            query = query.where(models.Action.owner != exclude_owner)
        query = query.order_by(models.Action.started_at,
                               models.Action.uuid)
        with self._reader() as session:
            return list(session.scalars(query))

    @_retry_on_deadlock
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
                models.Action.heartbeat_at < _utc(stale_before)))
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
                self._action_exists(session, action_uuid)
        return bool(won)

    # -- audit trail ---------------------------------------------------------

    @_retry_on_deadlock
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
            query = query.where(models.AuditEvent.created_at >= _utc(since))
        if after_id is not None:
            query = query.where(models.AuditEvent.id > after_id)
        if before_id is not None:
            query = query.where(models.AuditEvent.id < before_id)
        query = query.order_by(models.AuditEvent.id.desc() if newest_first
                               else models.AuditEvent.id)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

    # -- bad (instance, target) pairs ----------------------------------------

    @_retry_on_deadlock_or_duplicate
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

    # -- host states (for the Nova scheduler filter and weigher) ------------

    @_retry_on_deadlock_or_duplicate
    def save_host_states(self, states, reporter):
        """Write the state of some hosts, replacing what was there.

        One row per host, in one transaction: the hosts are updated or
        inserted together, and a reader sees all of them or none. Two
        replicas writing the same new host at once both succeed (the
        insert that loses the race is retried as an update; the later
        write wins).

        :param states: :class:`nova_drs.balancer.view.host_view.HostState`
            objects (or a mapping whose values are), at most one per host
        :param reporter: the balancer replica writing them
        :returns: the number of hosts written
        :raises ValueError: a state that cannot be stored (the message
            names the host and the field); nothing is written then
        """
        if isinstance(states, collections.abc.Mapping):
            states = states.values()
        now = self.now()
        rows = {}
        for state in states:
            row = _host_state_values(state)
            row.update(reported_by=reporter, updated_at=now)
            rows[row['host']] = row
        if not rows:
            return 0
        names = sorted(rows)
        with self._writer() as session:
            existing = set()
            for chunk in _chunks(names):
                existing.update(session.scalars(
                    sa.select(models.HostStateRow.host)
                    .where(models.HostStateRow.host.in_(chunk))))
            updates = [rows[n] for n in names if n in existing]
            inserts = [rows[n] for n in names if n not in existing]
            for chunk in _chunks(updates):
                session.execute(sa.update(models.HostStateRow), chunk)
            for chunk in _chunks(inserts):
                session.execute(sa.insert(models.HostStateRow), chunk)
        return len(rows)

    def list_host_states(self, hosts=None):
        """The stored host states, by host name.

        :param hosts: only these hosts (all by default)
        :returns: a list of :class:`~nova_drs.db.models.HostStateRow`
        """
        query = sa.select(models.HostStateRow).order_by(
            models.HostStateRow.host)
        with self._reader() as session:
            if hosts is None:
                return list(session.scalars(query))
            found = []
            for chunk in _chunks(sorted(set(_as_list(hosts)))):
                found.extend(session.scalars(query.where(
                    models.HostStateRow.host.in_(chunk))))
        return sorted(found, key=lambda row: row.host)

    def list_host_names(self):
        """The names of the hosts that have a stored state, sorted.

        Names only (the API matches a server's ``hostId`` against them).
        """
        query = sa.select(models.HostStateRow.host).order_by(
            models.HostStateRow.host)
        with self._reader() as session:
            return list(session.scalars(query))

    @_retry_on_deadlock
    def delete_host_states(self, keep=None, hosts=None):
        """Forget hosts, e.g. those Nova no longer has.

        :param keep: delete every host not in this collection (an empty
            one deletes them all)
        :param hosts: delete these hosts
        :returns: the number of rows deleted
        :raises ValueError: neither ``keep`` nor ``hosts`` given
        """
        if keep is None and hosts is None:
            raise ValueError('delete_host_states needs keep or hosts')
        with self._writer() as session:
            if hosts is not None:
                doomed = set(_as_list(hosts))
            else:
                doomed = set(session.scalars(
                    sa.select(models.HostStateRow.host)))
            if keep is not None:
                doomed -= set(_as_list(keep))
            deleted = 0
            for chunk in _chunks(sorted(doomed)):
                deleted += session.execute(
                    sa.delete(models.HostStateRow)
                    .where(models.HostStateRow.host.in_(chunk))
                    .execution_options(synchronize_session=False)).rowcount
        return deleted

    def reserved_destinations(self):
        """Hosts that live migrations are about to fill, and how many.

        The targets of running actions, and of pending actions of plans
        being applied: a new instance placed there by Nova's scheduler
        could take the room the balancer counted on.

        :returns: ``{host: number of migrations}``
        """
        return {target: len(instances) for target, instances
                in self.destination_reservations().items()}

    def destination_reservations(self):
        """The instances each reserved destination is kept for.

        As :meth:`reserved_destinations`, naming the instances: Nova's
        scheduler checks the destination of each of these live migrations
        too, and a host reserved for an instance must pass for that
        instance.

        :returns: ``{host: [instance uuid, ...]}``, one entry per action
        """
        applying = sa.select(models.Plan.uuid).where(
            models.Plan.state == models.PLAN_APPLYING)
        query = (
            sa.select(models.Action.target, models.Action.instance_uuid)
            .where(models.Action.target.is_not(None),
                   sa.or_(models.Action.state == models.ACTION_RUNNING,
                          sa.and_(
                              models.Action.state == models.ACTION_PENDING,
                              models.Action.plan_uuid.in_(applying)))))
        out = {}
        with self._reader() as session:
            for target, instance_uuid in session.execute(query):
                out.setdefault(target, []).append(instance_uuid)
        return out

    # -- plan requests (operators, through the API) -------------------------

    @_retry_on_deadlock
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
        with self._reader() as session:
            row = session.get(models.PlanRequest, request_uuid)
        if row is None:
            raise PlanRequestNotFound(request_uuid)
        return row

    def list_plan_requests(self, state=None, kind=None, limit=None):
        """Plan requests, oldest first (the order to work on them).

        :param state: a state or a list of states
        :param kind: a kind or a list of kinds
        """
        query = sa.select(models.PlanRequest)
        states, kinds = _as_list(state), _as_list(kind)
        if states is not None:
            query = query.where(models.PlanRequest.state.in_(states))
        if kinds is not None:
            query = query.where(models.PlanRequest.kind.in_(kinds))
        query = query.order_by(models.PlanRequest.created_at,
                               models.PlanRequest.uuid)
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

    def _plan_request_exists(self, session, request_uuid):
        if session.scalar(sa.select(models.PlanRequest.uuid).where(
                models.PlanRequest.uuid == request_uuid)) is None:
            raise PlanRequestNotFound(request_uuid)

    @_retry_on_deadlock
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
                self._plan_request_exists(session, request_uuid)
        return bool(won)

    @_retry_on_deadlock
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
                self._plan_request_exists(session, request_uuid)
        return bool(won)

    @_retry_on_deadlock
    def release_stale_plan_requests(self, before):
        """Claims older than ``before`` go back to ``pending``.

        The replica that claimed them died or hung; another one may claim
        them now. A late ``finish_plan_request`` of the old claimer then
        returns False.

        :returns: the number of requests released
        """
        before = _utc(before)
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

    # -- housekeeping --------------------------------------------------------

    @_retry_on_deadlock
    def purge(self, before, replicas_before=None):
        """Delete old history.

        Plans that reached a final state before ``before`` (with their
        actions), plan requests done or failed before ``before``, audit
        events older than ``before``, bad pairs that have expired, and
        the rows of replicas that have not reported since
        ``replicas_before`` (default: ``before``): they stopped without
        saying so.

        :returns: ``{'plans': n, 'actions': n, 'audit_events': n,
            'failed_pairs': n, 'plan_requests': n, 'replica_states': n}``
        """
        before = _utc(before)
        replicas_before = _utc(replicas_before) or before
        old_plans = sa.select(models.Plan.uuid).where(
            models.Plan.state.in_(sorted(models.PLAN_FINAL_STATES)),
            models.Plan.finished_at < before)
        with self._writer() as session:
            uuids = list(session.scalars(old_plans))
            actions = plans = 0
            for start in range(0, len(uuids), 500):
                chunk = uuids[start:start + 500]
                actions += session.execute(
                    sa.delete(models.Action)
                    .where(models.Action.plan_uuid.in_(chunk))
                    .execution_options(synchronize_session=False)).rowcount
                plans += session.execute(
                    sa.delete(models.Plan)
                    .where(models.Plan.uuid.in_(chunk))
                    .execution_options(synchronize_session=False)).rowcount
            events = session.execute(
                sa.delete(models.AuditEvent)
                .where(models.AuditEvent.created_at < before)
                .execution_options(synchronize_session=False)).rowcount
            pairs = session.execute(
                sa.delete(models.FailedPair)
                .where(models.FailedPair.until <= self.now())
                .execution_options(synchronize_session=False)).rowcount
            requests = session.execute(
                sa.delete(models.PlanRequest)
                .where(models.PlanRequest.state.in_(
                    sorted(models.REQUEST_FINAL_STATES)),
                    models.PlanRequest.updated_at < before)
                .execution_options(synchronize_session=False)).rowcount
            replicas = self._forget_replicas(session, replicas_before)
        return {'plans': plans, 'actions': actions, 'audit_events': events,
                'failed_pairs': pairs, 'plan_requests': requests,
                'replica_states': replicas}


def _chunks(items, size=HOST_STATE_CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _fraction_map(state, field):
    """{resource: finite float} of a HostState field."""
    value = getattr(state, field, None)
    if value is None:
        return {}
    if not isinstance(value, collections.abc.Mapping):
        raise ValueError('host %s: %s must be a mapping of resource to '
                         'load, not %r' % (state.name, field, value))
    out = {}
    for resource, load in value.items():
        if resource not in HOST_RESOURCES:
            raise ValueError('host %s: %s has an unknown resource %r (one '
                             'of %s)' % (state.name, field, resource,
                                         ', '.join(HOST_RESOURCES)))
        try:
            load = float(load)
        except (TypeError, ValueError):
            raise ValueError('host %s: %s[%s] is not a number: %r'
                             % (state.name, field, resource, load)) from None
        if not math.isfinite(load):
            raise ValueError('host %s: %s[%s] is not finite: %r'
                             % (state.name, field, resource, load))
        out[resource] = load
    return out


def _host_state_values(state):
    """The ``host_states`` columns of one HostState (duck-typed)."""
    name = getattr(state, 'name', None)
    if not isinstance(name, str) or not name:
        raise ValueError('a host state needs a host name, not %r' % (name,))
    # the hot resources its agent flags: the one hot state of the host
    hot = set()
    for resource in getattr(state, 'hot', None) or ():
        if resource not in HOST_RESOURCES:
            raise ValueError('host %s: hot has an unknown resource %r'
                             % (name, resource))
        hot.add(resource)
    sampled_at = getattr(state, 'sampled_at', None)
    if sampled_at is not None:
        try:
            sampled_at = datetime.datetime.fromtimestamp(
                float(sampled_at), datetime.timezone.utc).replace(
                    tzinfo=None)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ValueError('host %s: sampled_at is not a time in seconds '
                             'since the epoch: %r'
                             % (name, sampled_at)) from None
    try:
        cpu_count = int(getattr(state, 'cpu_count', 0) or 0)
        memory_total_mb = float(getattr(state, 'memory_total_mb', 0) or 0)
    except (TypeError, ValueError):
        raise ValueError('host %s: cpu_count and memory_total_mb must be '
                         'numbers' % name) from None
    if not math.isfinite(memory_total_mb):
        raise ValueError('host %s: memory_total_mb is not finite' % name)
    balloon = getattr(state, 'balloon', None)
    if balloon is not None and not isinstance(balloon,
                                              collections.abc.Mapping):
        raise ValueError('host %s: balloon must be a mapping, not %r'
                         % (name, balloon))
    return {
        'host': name,
        'sampled_at': sampled_at,
        'stale': bool(getattr(state, 'stale', False)),
        'hot': [r for r in HOST_RESOURCES if r in hot],
        'load': _fraction_map(state, 'load'),
        'smoothed': _fraction_map(state, 'smoothed'),
        'cpu_count': cpu_count,
        'memory_total_mb': memory_total_mb,
        'guest_count': len(getattr(state, 'guests', None) or ()),
        'balloon': dict(balloon) if balloon is not None else None,
        'libvirt_connected': _optional_bool(state, 'libvirt_connected'),
        'consolidation': _consolidation(state, name),
    }


def _consolidation(state, name):
    value = getattr(state, 'consolidation', None)
    if value is not None and value not in models.CONSOLIDATION_STATES:
        raise ValueError('host %s: consolidation must be one of %s, not %r'
                         % (name, ', '.join(models.CONSOLIDATION_STATES),
                            value))
    return value


def _optional_bool(state, field):
    value = getattr(state, field, None)
    return None if value is None else bool(value)
