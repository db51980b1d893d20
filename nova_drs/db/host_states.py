# SPDX-License-Identifier: Apache-2.0
"""What the Nova scheduler plugin reads: ``host_states`` and reservations.

Each balancer replica writes, every ``[drs_balancer]
host_state_interval`` seconds, one ``host_states`` row per compute host it
owns: the loads its agents report, the resources they flag hot, whether
the sample is stale, the host's consolidation state (a row whose values
did not change since its previous write only has ``updated_at`` stamped
again: :meth:`HostStatesMixin.save_host_states`). The scheduler filter
and weigher (:mod:`nova_drs.scheduler`) and the API read the rows; a row
is the latest view of its host, not a history (``updated_at``, stamped
with the database server's clock, says how old it is).

The *destination reservations* are derived from the ``actions`` of
applying plans, not stored: the hosts that live migrations are about to
fill, which the scheduler filter keeps new instances off.
"""

import collections.abc
import datetime
import math

import sqlalchemy as sa
from sqlalchemy import orm

from nova_drs.balancer import plan_states
from nova_drs.balancer.view import capacity
from nova_drs.db import common
from nova_drs.db import models
from nova_drs.db import retry

#: The resources a host state may name, in this order (the cluster model's).
HOST_RESOURCES = ('cpu', 'memory', 'disk', 'network')


class HostStatesMixin(object):
    """Host states and destination reservations; mixed into ``Database``."""

    @retry.retry_on_deadlock_or_duplicate
    def save_host_states(self, states, reporter, written=None):
        """Write the state of some hosts, replacing what was there.

        One row per host, in one transaction: the hosts are updated or
        inserted together, and a reader sees all of them or none. On
        MySQL/MariaDB, PostgreSQL and SQLite one upsert statement per
        chunk of rows writes them (:func:`_upsert_statement`); elsewhere
        the existing rows are read, then updated or inserted. Two
        replicas writing the same new host at once both succeed (the
        upsert makes it an update; without one, the insert that loses
        the race is retried as an update); the later write wins.

        :param states: :class:`nova_drs.balancer.view.host_view.HostState`
            objects (or a mapping whose values are), at most one per host
        :param reporter: the balancer replica writing them
        :param written: optional, a dict the writer keeps between calls
            (host -> the values it last wrote, updated here once the
            transaction committed). A host whose values did not change
            since has only its ``updated_at`` stamped again, by one
            ``UPDATE ... WHERE host IN (...)`` per chunk of names, instead
            of its whole row rewritten: with agents reporting every 30 s
            and rows written every 10 s, two writes in three change
            nothing but the stamp, and rewriting them (JSON columns
            encoded and escaped, the row shipped) cost a replica more CPU
            than taking in its agents' reports. Readers see the same
            table either way. A row that is no longer this reporter's (a
            replica took the host over, or it was deleted) is written
            whole again.
        :returns: the number of hosts written
        :raises ValueError: a state that cannot be stored (the message
            names the host and the field); nothing is written then
        """
        if isinstance(states, collections.abc.Mapping):
            states = states.values()
        # the server's clock, not this replica's: other replicas and
        # nova-scheduler age the rows by it (shared_state.from_rows), and
        # a replica whose clock runs minutes ahead would otherwise make
        # its rows trusted for minutes after it stopped writing them
        now = self.server_now()
        values = {}
        for state in states:
            row = _host_state_values(state)
            try:
                # its age, as the time Placement confirmed it: the same
                # at every write until it is confirmed again
                row['capacity'] = capacity.to_column(row['capacity'], now)
            except ValueError as e:
                raise ValueError('host %s: %s' % (row['host'], e)) from None
            values[row['host']] = row
        if not values:
            return 0
        # the stamps, which change at every write, are not compared
        same = ([] if written is None else
                sorted(n for n, row in values.items()
                       if written.get(n) == row))
        with self._writer() as session:
            lost = _restamp(session, same, reporter, now)
            # the rows written whole, with their stamps
            whole = {n: dict(values[n], reported_by=reporter, updated_at=now)
                     for n in set(values).difference(same).union(lost)}
            upsert = _upsert_statement(session)
            if upsert is not None:
                # one multi-row statement per chunk (the driver batches
                # it) instead of a SELECT and then one UPDATE round trip
                # per host: a replica writes every host it owns every
                # host_state_interval, which cost it as much CPU as
                # taking in the agents' reports, and the database
                # server more
                _upsert(session, upsert, [whole[n] for n in sorted(whole)])
            else:
                _update_or_insert(session, whole)
        # committed: what the next call compares with
        if written is not None:
            written.update(values)
        return len(values)

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
            for chunk in common.chunks(sorted(set(common.as_list(hosts)))):
                found.extend(session.scalars(query.where(
                    models.HostStateRow.host.in_(chunk))))
        return sorted(found, key=lambda row: row.host)

    def list_host_states_since(self, since, without=(), not_by=None):
        """The rows written since each reporter's time in ``since``.

        For :class:`nova_drs.db.host_state_cache.HostStateCache`, which
        reads only what changed since its last read. The times are per
        reporter: comparing a replica's rows with that replica's own
        earlier stamps holds even where the rows are stamped with each
        writer's clock (SQLite, :meth:`server_now`).

        :param since: ``{reported_by: naive UTC datetime}``; an empty
            mapping reads every row
        :param without: columns not to read (e.g. ``balloon``, the
            largest, which a replica judging other replicas' hosts does
            not use); reading one of them from a row raises
        :param not_by: leave out the rows this reporter wrote (a replica
            reading the others' hosts: it knows its own better)
        :returns: the rows of each named reporter with ``updated_at``
            after its time, and every row of the reporters not named, as
            :class:`~nova_drs.db.models.HostStateRow` in no set order
        """
        row = models.HostStateRow
        since = {reporter: common.utc(when)
                 for reporter, when in since.items()}
        query = sa.select(row)
        if not_by is not None:
            query = query.where(row.reported_by != not_by)
        if without:
            query = query.options(*(
                orm.defer(getattr(row, column), raiseload=True)
                for column in without))
        if since:
            # each term is a range of ix_host_states_reported_by_updated_at
            query = query.where(sa.or_(
                row.reported_by.not_in(sorted(since)),
                *(sa.and_(row.reported_by == reporter, row.updated_at > when)
                  for reporter, when in sorted(since.items()))))
        return self._list(query)

    def count_host_states(self, not_by=None):
        """The number of rows of ``host_states`` (a deletion lowers it).

        :param not_by: leave out the rows this reporter wrote
        """
        query = sa.select(sa.func.count()).select_from(models.HostStateRow)
        if not_by is not None:
            query = query.where(models.HostStateRow.reported_by != not_by)
        with self._reader() as session:
            return session.scalar(query)

    def list_host_names(self):
        """The names of the hosts that have a stored state, sorted.

        Names only (the API matches a server's ``hostId`` against them).
        """
        return self._list(sa.select(models.HostStateRow.host).order_by(
            models.HostStateRow.host))

    @retry.retry_on_deadlock
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
                doomed = set(common.as_list(hosts))
            else:
                doomed = set(session.scalars(
                    sa.select(models.HostStateRow.host)))
            if keep is not None:
                doomed -= set(common.as_list(keep))
            return sum(self._delete(session, models.HostStateRow,
                                    models.HostStateRow.host.in_(chunk))
                       for chunk in common.chunks(sorted(doomed)))

    # -- destination reservations -------------------------------------------

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
            models.Plan.state == plan_states.PLAN_APPLYING)
        state = models.Action.state
        query = (
            sa.select(models.Action.target, models.Action.instance_uuid)
            .where(models.Action.target.is_not(None),
                   sa.or_(state == plan_states.ACTION_RUNNING,
                          sa.and_(state == plan_states.ACTION_PENDING,
                                  models.Action.plan_uuid.in_(applying)))))
        out = {}
        with self._reader() as session:
            for target, instance_uuid in session.execute(query):
                out.setdefault(target, []).append(instance_uuid)
        return out


def _restamp(session, names, reporter, now):
    """Stamp ``updated_at`` of ``reporter``'s rows of ``names``.

    :returns: the names of the chunks in which a row did not match (not
        this reporter's any more, or deleted): the caller writes them whole
    """
    table = models.HostStateRow.__table__
    lost = []
    for chunk in common.chunks(names):
        result = session.execute(
            sa.update(table)
            .where(table.c.reported_by == reporter, table.c.host.in_(chunk))
            .values(updated_at=now))
        # rows matched, not changed (MySQL: SQLAlchemy asks for found rows)
        if result.rowcount != len(chunk):
            lost.extend(chunk)
    return lost


def _update_or_insert(session, rows):
    """Write ``rows`` where there is no upsert: read, update, insert."""
    names = sorted(rows)
    existing = set()
    for chunk in common.chunks(names):
        existing.update(session.scalars(
            sa.select(models.HostStateRow.host)
            .where(models.HostStateRow.host.in_(chunk))))
    updates = [rows[n] for n in names if n in existing]
    inserts = [rows[n] for n in names if n not in existing]
    for chunk in common.chunks(updates):
        session.execute(sa.update(models.HostStateRow), chunk)
    for chunk in common.chunks(inserts):
        session.execute(sa.insert(models.HostStateRow), chunk)


def _upsert(session, upsert, rows):
    """Run ``upsert`` (:func:`_upsert_statement`) over ``rows``.

    A Core statement, some 30 % cheaper than the ORM's bulk insert. A
    JSON column's type writes None as an empty object; the ORM writes
    NULL for a balloon that is None, and so does this: those rows are
    written by a statement that sets the column to NULL itself.
    """
    without = [r for r in rows if r['balloon'] is None]
    for chunk in common.chunks([r for r in rows if r['balloon'] is not None]):
        session.execute(upsert, chunk)
    if without:
        upsert = upsert.values(balloon=sa.null())
        for chunk in common.chunks(without):
            session.execute(upsert, [
                {k: v for k, v in r.items() if k != 'balloon'}
                for r in chunk])


def _upsert_statement(session):
    """An INSERT that updates the row of a host already there, or None.

    In the dialect of the session's database: MySQL's and MariaDB's ``ON
    DUPLICATE KEY UPDATE``, PostgreSQL's and SQLite's ``ON CONFLICT DO
    UPDATE``; None for another database (then the rows are read, then
    updated or inserted). Every column but the host is replaced, as an
    UPDATE of the whole row would.
    """
    table = models.HostStateRow.__table__
    dialect = session.get_bind().dialect.name
    columns = [c.name for c in table.columns if c.name != 'host']
    if dialect == 'mysql':
        from sqlalchemy.dialects import mysql
        stmt = mysql.insert(table)
        return stmt.on_duplicate_key_update(
            {c: stmt.inserted[c] for c in columns})
    if dialect in ('postgresql', 'sqlite'):
        if dialect == 'postgresql':
            from sqlalchemy.dialects import postgresql as module
        else:
            from sqlalchemy.dialects import sqlite as module
        stmt = module.insert(table)
        return stmt.on_conflict_do_update(
            index_elements=[table.c.host],
            set_={c: stmt.excluded[c] for c in columns})
    return None


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
        'capacity': _capacity(state, name),
    }


def _capacity(state, name):
    """The ``capacity`` column of a HostState: a JSON object, or {}."""
    value = getattr(state, 'capacity', None)
    if value is None:
        return {}
    if not isinstance(value, collections.abc.Mapping):
        raise ValueError('host %s: capacity must be a mapping, not %r'
                         % (name, value))
    return dict(value)


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
