# SPDX-License-Identifier: Apache-2.0
"""Reading and writing the balancer's state: :class:`Database`.

:class:`Database` is the only code that reads or writes the tables of
:mod:`nova_drs.db.models`. It is made of one mixin per group of tables,
each a module with the rules of its aggregate:

* :mod:`nova_drs.db.plans`: plans and their actions, changed by
  compare-and-set along the balancer's state machine
  (:mod:`nova_drs.balancer.plan_states`);
* :mod:`nova_drs.db.plan_requests`: operators' requests for a plan, the
  queue between the API and the balancer replicas;
* :mod:`nova_drs.db.host_states`: the hosts' states and the destination
  reservations that the Nova scheduler plugin reads;
* :mod:`nova_drs.db.bad_pairs`: (instance, host) pairs whose migration
  failed recently;
* :mod:`nova_drs.db.audit`: the audit trail every change writes to;
* :mod:`nova_drs.db.control`: operators' settings and the replicas' own
  reports.

This module holds what they share: the engine and its transactions, and
:meth:`Database.purge`, which ages out the history of several groups.
Every method is one database transaction (oslo.db's enginefacade), so a
balancer that dies between two calls leaves a consistent state behind.
A mixin's methods open it with ``self._writer()`` or ``self._reader()``
(or read with ``self._get()`` and ``self._list()``), take the time from
``self.now()``, change rows with ``self._update()`` and
``self._delete()``, and write their audit events with ``self._audit()``
(:mod:`nova_drs.db.audit`).

The errors callers catch are importable from here: :class:`NotFound` (and
:class:`PlanNotFound`, :class:`ActionNotFound`,
:class:`PlanRequestNotFound`), :class:`InvalidTransition` and
:class:`DatabaseNotConfigured`.

Times are naive UTC datetimes. Aware datetimes given as arguments are
converted.

Two clocks. :meth:`Database.now` is this process's clock: the history
(plans, events, settings) is stamped with it. :meth:`Database.server_now`
is the database server's clock: what several processes on several
machines compare (the ``host_states`` rows that balancer replicas write
and other replicas and nova-scheduler age) is stamped and aged with it,
so that a process whose clock is minutes off neither makes its rows look
fresh for minutes after it stopped writing nor finds every other
replica's rows too old (see ``doc/source/balancer.rst``, "Trust in shared
rows").
"""

import datetime

from oslo_db.sqlalchemy import enginefacade
from oslo_utils import timeutils
import sqlalchemy as sa

from nova_drs.balancer import plan_states
from nova_drs.conf import database as db_conf
from nova_drs.db import audit
from nova_drs.db import bad_pairs
from nova_drs.db import common
from nova_drs.db import control
from nova_drs.db import host_states
from nova_drs.db import models
from nova_drs.db import plan_requests
from nova_drs.db import plans
from nova_drs.db import retry

NotFound = common.NotFound
PlanNotFound = common.PlanNotFound
ActionNotFound = common.ActionNotFound
PlanRequestNotFound = common.PlanRequestNotFound
InvalidTransition = plan_states.InvalidTransition


class DatabaseNotConfigured(Exception):
    """``[drs_database] connection`` is empty."""


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


#: the server's current UTC time (naive, microseconds), by dialect name;
#: the time of the statement, not of the transaction (PostgreSQL's now())
_SERVER_NOW = {
    'mysql': sa.text('SELECT UTC_TIMESTAMP(6)'),
    'postgresql': sa.text("SELECT clock_timestamp() AT TIME ZONE 'UTC'"),
}


class Database(plans.PlansMixin, plan_requests.PlanRequestsMixin,
               host_states.HostStatesMixin, bad_pairs.BadPairsMixin,
               audit.AuditMixin, control.ControlMixin):
    """The balancer's database, through oslo.db's enginefacade.

    One instance per process is enough; it is thread-safe (each call uses
    its own session and transaction) and keeps a connection pool.

    :param conf: configuration with ``[drs_database]``
    :param connection: database URL overriding the configuration
    :param clock: returns the current time as a naive UTC datetime (tests
        replace it)
    :param server_clock: the database server's time, the same way; None
        (the default) asks the server (:meth:`server_now`)
    :param max_retries: see :func:`create_context_manager`
    """

    def __init__(self, conf=None, connection=None, clock=timeutils.utcnow,
                 max_retries=None, server_clock=None):
        self._context_manager = create_context_manager(conf, connection,
                                                       max_retries)
        self._clock = clock
        self._server_clock = server_clock

    @property
    def engine(self):
        """The SQLAlchemy engine (created on first use)."""
        return self._context_manager.writer.get_engine()

    def dispose(self):
        """Close the pooled connections."""
        self._context_manager.dispose_pool()

    def now(self):
        """This process's time (naive UTC)."""
        return common.utc(self._clock())

    def server_now(self):
        """The database server's time now (naive UTC, microseconds).

        One query (``UTC_TIMESTAMP(6)`` on MySQL/MariaDB,
        ``clock_timestamp()`` in UTC on PostgreSQL). SQLite has no server:
        its file is shared by the processes of one machine, which share
        one clock, so this is :meth:`now` there (and on a database of
        another kind, which this code does not know how to ask).
        """
        if self._server_clock is not None:
            return common.utc(self._server_clock())
        query = _SERVER_NOW.get(self.engine.dialect.name)
        if query is None:
            return self.now()
        with self._reader() as session:
            value = session.scalar(query)
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        return common.utc(value)

    def _writer(self):
        return self._context_manager.writer.using(_Context())

    def _reader(self):
        return self._context_manager.reader.using(_Context())

    def _get(self, model, key, not_found):
        """The row of ``key``, read in a transaction of its own.

        :raises not_found: (made with ``key``) no such row
        """
        with self._reader() as session:
            row = session.get(model, key)
        if row is None:
            raise not_found(key)
        return row

    def _list(self, query, limit=None):
        """The rows ``query`` selects, at most ``limit`` (None: all)."""
        if limit is not None:
            query = query.limit(limit)
        with self._reader() as session:
            return list(session.scalars(query))

    @staticmethod
    def _update(session, model, where, values):
        """One UPDATE; the number of rows it changed."""
        stmt = (sa.update(model).where(*where).values(**values)
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount

    @staticmethod
    def _delete(session, model, *where):
        """One DELETE; the number of rows it removed."""
        stmt = (sa.delete(model).where(*where)
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount

    @retry.retry_on_deadlock
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
        before = common.utc(before)
        replicas_before = common.utc(replicas_before) or before
        old_plans = sa.select(models.Plan.uuid).where(
            models.Plan.state.in_(sorted(plan_states.PLAN_FINAL_STATES)),
            models.Plan.finished_at < before)
        with self._writer() as session:
            action_rows = plan_rows = 0
            for chunk in common.chunks(session.scalars(old_plans)):
                action_rows += self._delete(
                    session, models.Action, models.Action.plan_uuid.in_(chunk))
                plan_rows += self._delete(session, models.Plan,
                                          models.Plan.uuid.in_(chunk))
            events = self._delete(session, models.AuditEvent,
                                  models.AuditEvent.created_at < before)
            pairs = self._delete(session, models.FailedPair,
                                 models.FailedPair.until <= self.now())
            requests = self._delete(
                session, models.PlanRequest,
                models.PlanRequest.state.in_(
                    sorted(models.REQUEST_FINAL_STATES)),
                models.PlanRequest.updated_at < before)
            replicas = self._delete(
                session, models.ReplicaState,
                models.ReplicaState.updated_at < replicas_before)
        return {'plans': plan_rows, 'actions': action_rows,
                'audit_events': events,
                'failed_pairs': pairs, 'plan_requests': requests,
                'replica_states': replicas}
