# SPDX-License-Identifier: Apache-2.0
"""The balancer's tables.

``plans``
    One row per plan a strategy made: where it came from (``origin``), its
    state, how long the decision took, the hotspots it left unresolved.
``actions``
    The plan's live migrations, in order: who runs it (``owner``, the
    balancer replica), its state, Nova's migration, timings and error.
``audit_events``
    An append-only trail: who (replica id or user) did what to which plan
    or action, and when.
``failed_pairs``
    (instance, target host) pairs whose migration failed, not to be tried
    again before ``until``.
``host_states``
    The latest state of each compute host as the balancer replica that
    owns it saw it (loads, hot resources, staleness), rewritten at each
    cycle; the Nova scheduler filter and weigher read it.
``plan_requests``
    An operator's request, through the API, for a plan made now (a
    dry-run plan, or a host's evacuation): a balancer replica claims it,
    plans, and records the plan it stored or why it could not.
``balancer_settings``
    What an operator set for the whole cluster through the API: the
    automation mode (instead of ``[drs_balancer] mode``) and whether
    automatic balancing is paused; one row. Every replica reads it at
    each cycle.
``host_settings``
    What an operator set for one compute host: whether the balancer
    leaves it alone (paused: neither source nor destination of automatic
    plans).
``replica_states``
    One row per running balancer replica, rewritten by the replica: the
    mode it plans in, its strategy, its heartbeat and its latest cycle,
    for ``GET /v1/status``.

The plans' and actions' states are the balancer's
(:mod:`nova_drs.balancer.plan_states`); the other values a column may
hold are here. Times are naive UTC datetimes (as everywhere in OpenStack
databases), with microseconds on every backend. These models must agree
with the alembic scripts in ``nova_drs/db/migrations/versions``: a unit
test compares them, and a change to either needs a new migration
(doc/source/database.rst).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

from oslo_db.sqlalchemy import types as db_types

from nova_drs.balancer import plan_states

# -- values of the columns --------------------------------------------------

#: Why a plan was made.
ORIGIN_PERIODIC = 'periodic'
ORIGIN_HOTSPOT = 'hotspot'
ORIGIN_OPERATOR = 'operator'
ORIGIN_EVACUATION = 'evacuation'
ORIGINS = (ORIGIN_PERIODIC, ORIGIN_HOTSPOT, ORIGIN_OPERATOR,
           ORIGIN_EVACUATION)

#: What an operator asks the balancer for through the API.
REQUEST_PLAN = 'plan'
REQUEST_EVACUATION = 'evacuation'
REQUEST_KINDS = (REQUEST_PLAN, REQUEST_EVACUATION)

REQUEST_PENDING = 'pending'
REQUEST_CLAIMED = 'claimed'
REQUEST_DONE = 'done'
REQUEST_FAILED = 'failed'
REQUEST_STATES = (REQUEST_PENDING, REQUEST_CLAIMED, REQUEST_DONE,
                  REQUEST_FAILED)
REQUEST_FINAL_STATES = frozenset((REQUEST_DONE, REQUEST_FAILED))

#: The balancer's automation levels (``[drs_balancer] mode``).
MODE_MANUAL = 'manual'
MODE_PARTIAL = 'partial'
MODE_FULL = 'full'
MODES = (MODE_MANUAL, MODE_PARTIAL, MODE_FULL)

#: Where a replica's mode comes from.
MODE_SOURCE_CONFIG = 'config'
MODE_SOURCE_OPERATOR = 'operator'
MODE_SOURCES = (MODE_SOURCE_CONFIG, MODE_SOURCE_OPERATOR)

#: A host's ``consolidation`` state: it runs no guest and none is on its
#: way, so it can be powered off; ``disabled``: and nova-drs disabled its
#: nova-compute service (``[drs_balancer] disable_freed_hosts``).
CONSOLIDATION_EMPTY = 'empty'
CONSOLIDATION_DISABLED = 'disabled'
CONSOLIDATION_STATES = (CONSOLIDATION_EMPTY, CONSOLIDATION_DISABLED)

#: The key of the one ``balancer_settings`` row (the whole cluster).
CLUSTER = 'cluster'

# -- column types -----------------------------------------------------------

#: Deterministic constraint and index names on every backend, so that a
#: later migration can name what it alters.
NAMING_CONVENTION = {
    'ix': 'ix_%(column_0_N_label)s',
    'uq': 'uq_%(table_name)s_%(column_0_N_name)s',
    'ck': 'ck_%(table_name)s_%(constraint_name)s',
    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s',
    'pk': 'pk_%(table_name)s',
}

UUID = sa.String(36)
#: compute service host names (Nova: String(255))
HOST = sa.String(255)
#: a balancer replica's id, or a user
ACTOR = sa.String(255)
STATE = sa.String(16)
#: MySQL's DATETIME drops fractions of a second unless told otherwise
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
#: SQLite autoincrements INTEGER PRIMARY KEY columns only
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _in(column, values):
    return '%s IN (%s)' % (column, ', '.join("'%s'" % v for v in values))


class Base(orm.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Plan(Base):
    """A plan: live migrations a strategy chose, applied in order."""

    __tablename__ = 'plans'
    __table_args__ = (
        sa.CheckConstraint(_in('state', plan_states.PLAN_STATES),
                           name='state'),
        sa.CheckConstraint(_in('origin', ORIGINS), name='origin'),
        sa.Index('ix_plans_state_created_at', 'state', 'created_at'),
        sa.Index('ix_plans_created_at', 'created_at'),
        TABLE_ARGS,
    )

    uuid: orm.Mapped[str] = orm.mapped_column(UUID, primary_key=True)
    #: the strategy's entry-point name
    strategy: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    origin: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    state: orm.Mapped[str] = orm.mapped_column(STATE)
    #: why the plan is in its state (cancelled by whom, why it failed...)
    state_reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    created_at = orm.mapped_column(DATETIME, nullable=False)
    updated_at = orm.mapped_column(DATETIME, nullable=False)
    #: when the plan reached a final state
    finished_at = orm.mapped_column(DATETIME, nullable=True)
    #: seconds the strategy took to decide
    decision_s: orm.Mapped[float] = orm.mapped_column(sa.Double)
    #: hosts still hot after the plan, as a JSON list
    unresolved = orm.mapped_column(db_types.JsonEncodedList(),
                                   nullable=False)
    #: the replica (or user) that made the plan
    created_by: orm.Mapped[str] = orm.mapped_column(ACTOR)
    #: the balancer applied it by itself (its mode), not an operator:
    #: while balancing is paused its pending actions do not start
    applied_automatically: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, server_default=sa.false())

    actions: orm.Mapped[list['Action']] = orm.relationship(
        back_populates='plan', order_by='Action.order_index',
        lazy='raise')


class Action(Base):
    """One live migration of a plan."""

    __tablename__ = 'actions'
    __table_args__ = (
        sa.CheckConstraint(_in('state', plan_states.ACTION_STATES),
                           name='state'),
        sa.UniqueConstraint('plan_uuid', 'order_index'),
        # in-flight migrations by host (takeover), and pending work
        sa.Index('ix_actions_state_source', 'state', 'source'),
        sa.Index('ix_actions_state_target', 'state', 'target'),
        sa.Index('ix_actions_instance_uuid', 'instance_uuid'),
        TABLE_ARGS,
    )

    uuid: orm.Mapped[str] = orm.mapped_column(UUID, primary_key=True)
    plan_uuid: orm.Mapped[str] = orm.mapped_column(
        UUID, sa.ForeignKey('plans.uuid'))
    #: position in the plan, from 0
    order_index: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(UUID)
    source: orm.Mapped[str] = orm.mapped_column(HOST)
    #: None: Nova's scheduler chooses
    target: orm.Mapped[str | None] = orm.mapped_column(HOST)
    reason: orm.Mapped[str] = orm.mapped_column(sa.Text)
    #: estimated MiB sent (nova_drs.balancer.planning.cost)
    transfer_mb: orm.Mapped[float] = orm.mapped_column(sa.Double)
    #: estimated seconds at the configured bandwidth
    estimated_s: orm.Mapped[float] = orm.mapped_column(sa.Double)
    state: orm.Mapped[str] = orm.mapped_column(STATE)
    #: the replica running it (set when it starts)
    owner: orm.Mapped[str | None] = orm.mapped_column(ACTOR)
    created_at = orm.mapped_column(DATETIME, nullable=False)
    updated_at = orm.mapped_column(DATETIME, nullable=False)
    started_at = orm.mapped_column(DATETIME, nullable=True)
    finished_at = orm.mapped_column(DATETIME, nullable=True)
    #: the owner's last sign of life while running
    heartbeat_at = orm.mapped_column(DATETIME, nullable=True)
    #: Nova's migration record (``/os-migrations``)
    migration_id: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    migration_uuid: orm.Mapped[str | None] = orm.mapped_column(UUID)
    #: Nova's last known migration status (or ``rejected``, ``unknown``)
    nova_status: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)

    plan: orm.Mapped[Plan] = orm.relationship(back_populates='actions',
                                              lazy='raise')


class AuditEvent(Base):
    """Something a replica or a user did, for the audit trail."""

    __tablename__ = 'audit_events'
    __table_args__ = (
        sa.Index('ix_audit_events_object_uuid', 'object_uuid'),
        sa.Index('ix_audit_events_created_at', 'created_at'),
        TABLE_ARGS,
    )

    id: orm.Mapped[int] = orm.mapped_column(BIGINT_ID, primary_key=True,
                                            autoincrement=True)
    created_at = orm.mapped_column(DATETIME, nullable=False)
    actor: orm.Mapped[str] = orm.mapped_column(ACTOR)
    #: dotted: ``plan.created``, ``action.running``, ``action.takeover``...
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    #: the plan, action or instance concerned, if any
    object_uuid: orm.Mapped[str | None] = orm.mapped_column(UUID)
    message: orm.Mapped[str] = orm.mapped_column(sa.Text)
    detail = orm.mapped_column(db_types.JsonEncodedDict(), nullable=True)


class FailedPair(Base):
    """A migration of ``instance_uuid`` to ``target`` failed recently."""

    __tablename__ = 'failed_pairs'
    __table_args__ = (
        sa.Index('ix_failed_pairs_until', 'until'),
        TABLE_ARGS,
    )

    instance_uuid: orm.Mapped[str] = orm.mapped_column(UUID,
                                                       primary_key=True)
    target: orm.Mapped[str] = orm.mapped_column(HOST, primary_key=True)
    #: the pair may be tried again from then on
    until = orm.mapped_column(DATETIME, nullable=False)
    created_at = orm.mapped_column(DATETIME, nullable=False)
    reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class HostStateRow(Base):
    """One compute host's state, as its owning balancer replica saw it."""

    __tablename__ = 'host_states'
    __table_args__ = (
        # the readers that read only what changed, by reporter
        # (Database.list_host_states_since)
        sa.Index('ix_host_states_reported_by_updated_at', 'reported_by',
                 'updated_at'),
        TABLE_ARGS,
    )

    #: the compute service host (Nova's ``HostState.host``)
    host: orm.Mapped[str] = orm.mapped_column(HOST, primary_key=True)
    #: the balancer replica that wrote the row
    reported_by: orm.Mapped[str] = orm.mapped_column(ACTOR)
    #: when the row was written (readers judge its age by this)
    updated_at = orm.mapped_column(DATETIME, nullable=False)
    #: the agent's time of the latest sample (None: no sample yet)
    sampled_at = orm.mapped_column(DATETIME, nullable=True)
    #: the agent has sent no current sample: loads and hot flags are old
    stale: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    #: hot resources (cpu, memory, disk, network), as a JSON list: the
    #: flags of the host's agent (its EWMA + k-of-n detector)
    hot = orm.mapped_column(db_types.JsonEncodedList(), nullable=False)
    #: {resource: share of capacity} of the latest cycle
    load = orm.mapped_column(db_types.JsonEncodedDict(), nullable=False)
    #: {resource: share of capacity}, smoothed (EWMA) by the agent
    smoothed = orm.mapped_column(db_types.JsonEncodedDict(), nullable=False)
    cpu_count: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    memory_total_mb: orm.Mapped[float] = orm.mapped_column(sa.Double)
    guest_count: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    #: balloon totals of the host (JSON), when known
    balloon = orm.mapped_column(db_types.JsonEncodedDict(), nullable=True)
    #: the agent reaches its libvirtd (False: the host is unavailable to
    #: the balancer until it does again); None: not known
    libvirt_connected = orm.mapped_column(sa.Boolean, nullable=True)
    #: CONSOLIDATION_EMPTY or CONSOLIDATION_DISABLED when the host runs
    #: no guest and none is on its way (it can be powered off); None
    #: otherwise
    consolidation: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(16), nullable=True)
    #: the host's Placement capacity as its owner last read it, with its
    #: age then (JSON, :mod:`nova_drs.balancer.view.capacity`); empty:
    #: not known (the other replicas read the host themselves)
    capacity = orm.mapped_column(db_types.JsonEncodedDict(), nullable=True)


class PlanRequest(Base):
    """An operator's request for a plan, waiting for a balancer replica.

    ``pending`` until a replica claims it (``claimed``, with
    ``claimed_by`` and ``claimed_at``), then ``done`` with the stored
    plan's uuid or ``failed`` with the error. A claim that is not
    finished in time goes back to ``pending`` (the replica died).
    """

    __tablename__ = 'plan_requests'
    __table_args__ = (
        sa.CheckConstraint(_in('kind', REQUEST_KINDS), name='kind'),
        sa.CheckConstraint(_in('state', REQUEST_STATES), name='state'),
        # the work queue: pending requests, oldest first
        sa.Index('ix_plan_requests_state_created_at', 'state',
                 'created_at'),
        TABLE_ARGS,
    )

    uuid: orm.Mapped[str] = orm.mapped_column(UUID, primary_key=True)
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    #: the strategy to plan with (None: the configured one)
    strategy: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    #: the host to evacuate (evacuations only)
    host: orm.Mapped[str | None] = orm.mapped_column(HOST)
    #: apply the plan at once (evacuations), else store it recommended
    apply: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    state: orm.Mapped[str] = orm.mapped_column(STATE)
    #: the plan stored for it (no foreign key: plans are purged)
    plan_uuid: orm.Mapped[str | None] = orm.mapped_column(UUID)
    #: why it failed
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    created_at = orm.mapped_column(DATETIME, nullable=False)
    updated_at = orm.mapped_column(DATETIME, nullable=False)
    #: the user who asked
    created_by: orm.Mapped[str] = orm.mapped_column(ACTOR)
    #: the replica working on it
    claimed_by: orm.Mapped[str | None] = orm.mapped_column(ACTOR)
    claimed_at = orm.mapped_column(DATETIME, nullable=True)


class BalancerSetting(Base):
    """What an operator set for the whole cluster (one row, ``cluster``).

    No row, or a null ``mode``: each replica plans in its ``[drs_balancer]
    mode``.
    """

    __tablename__ = 'balancer_settings'
    __table_args__ = (
        sa.CheckConstraint(_in('mode', MODES), name='mode'),
        TABLE_ARGS,
    )

    #: always :data:`CLUSTER` (a key, so that the row can be upserted)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(32),
                                              primary_key=True)
    #: the mode every replica plans in; None: each its configured one
    mode: orm.Mapped[str | None] = orm.mapped_column(sa.String(16))
    #: no automatic plan is made or applied
    paused: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    #: why, as the operator said (the latest change)
    reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    #: the user who made the latest change, and when
    updated_by: orm.Mapped[str] = orm.mapped_column(ACTOR)
    updated_at = orm.mapped_column(DATETIME, nullable=False)


class HostSetting(Base):
    """What an operator set for one compute host."""

    __tablename__ = 'host_settings'
    __table_args__ = (TABLE_ARGS,)

    #: the compute service host
    host: orm.Mapped[str] = orm.mapped_column(HOST, primary_key=True)
    #: the balancer moves nothing off or onto the host automatically
    paused: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    #: why, as the operator said (the latest change)
    reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    updated_by: orm.Mapped[str] = orm.mapped_column(ACTOR)
    updated_at = orm.mapped_column(DATETIME, nullable=False)


class ReplicaState(Base):
    """A balancer replica as it reports itself."""

    __tablename__ = 'replica_states'
    __table_args__ = (
        sa.CheckConstraint(_in('mode', MODES), name='mode'),
        sa.CheckConstraint(_in('mode_source', MODE_SOURCES),
                           name='mode_source'),
        TABLE_ARGS,
    )

    #: the replica's id (its tooz member id)
    replica_id: orm.Mapped[str] = orm.mapped_column(ACTOR, primary_key=True)
    #: the machine it runs on, and its process id
    host: orm.Mapped[str] = orm.mapped_column(HOST)
    pid: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    #: the nova-drs version it runs
    version: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    #: the mode its next cycle plans in, and where that comes from
    mode: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    mode_source: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    #: its configured strategy
    strategy: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    #: it saw balancing paused at its latest reading of the settings
    paused: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    started_at = orm.mapped_column(DATETIME, nullable=False)
    #: its latest report (a heartbeat: readers judge its age by it)
    updated_at = orm.mapped_column(DATETIME, nullable=False)
    #: planning cycles run, and those that failed
    cycles: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    cycle_errors: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    #: a summary of its latest cycle (JSON), empty before the first
    last_cycle = orm.mapped_column(db_types.JsonEncodedDict(),
                                   nullable=True)
    #: its own counters (JSON): intake, partitions and hosts owned, Nova
    #: reads and calls, CPU time, memory; NULL before revision 0006
    work = orm.mapped_column(db_types.JsonEncodedDict(), nullable=True)
