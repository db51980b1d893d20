# SPDX-License-Identifier: Apache-2.0
"""Operators' settings and the replicas' own reports.

The methods of :class:`ControlMixin` are part of
:class:`nova_drs.db.api.Database` (one transaction each, as every method
there):

* **settings** an operator changes through the API: the automation mode
  of the whole cluster and whether automatic balancing is paused
  (``balancer_settings``, one row), and which hosts are paused
  (``host_settings``). Every balancer replica reads them with
  :meth:`~ControlMixin.balancer_settings` at each cycle and before it
  starts a migration: two small selects;
* **replica reports**: each replica rewrites its row of
  ``replica_states`` (:meth:`~ControlMixin.report_replica`) every few
  seconds, so the API shows what the replicas really do rather than its
  own configuration.

Each change of a setting writes an audit event in the same transaction
(kinds ``balancer.mode``, ``balancer.paused``, ``balancer.resumed``,
``host.paused``, ``host.resumed``), with the user and the reason.
"""

import dataclasses
import datetime

import sqlalchemy as sa

from nova_drs.db import common
from nova_drs.db import models
from nova_drs.db import retry

#: "not given" (None means something: back to the configured mode)
UNSET = object()

#: the longest reason stored (the API refuses longer ones)
MAX_REASON = 255


@dataclasses.dataclass(frozen=True)
class HostPause:
    """A host an operator paused."""

    host: str
    reason: str = None
    updated_by: str = None
    updated_at: datetime.datetime = None


@dataclasses.dataclass(frozen=True)
class BalancerSettings:
    """What operators set: the cluster's mode and pause, paused hosts.

    The defaults are a cluster where no operator set anything: each
    replica plans in its ``[drs_balancer] mode``, nothing is paused.
    """

    #: the mode set by an operator; None: each replica's configured one
    mode: str = None
    #: automatic balancing is paused for the whole cluster
    paused: bool = False
    #: the operator's reason for the latest change
    reason: str = None
    updated_by: str = None
    updated_at: datetime.datetime = None
    #: host -> :class:`HostPause`, the paused hosts only
    paused_hosts: dict = dataclasses.field(default_factory=dict)

    @property
    def mode_source(self):
        """``operator`` when an operator set the mode, else ``config``."""
        return (models.MODE_SOURCE_OPERATOR if self.mode
                else models.MODE_SOURCE_CONFIG)

    def effective_mode(self, configured):
        """The mode to plan in for a replica configured with it."""
        return self.mode or configured

    def host_paused(self, host):
        return host in self.paused_hosts


def _reason(reason):
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise ValueError('a reason must be text, not %r' % (reason,))
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValueError('a reason is at most %d characters' % MAX_REASON)
    return reason or None


def _with_reason(message, reason):
    return '%s: %s' % (message, reason) if reason else message


class ControlMixin(object):
    """Settings and replica reports; mixed into ``Database``."""

    # -- settings (operators, through the API) -------------------------------

    def _locked(self, session, model, key_column, key, now):
        """The row of ``key``, locked for this transaction, or None.

        A write comes first: it locks the row (the database, on SQLite)
        before anything is read, so that two operators' changes are
        serialised and each audit event says what it changed from. (A
        read first would let two SQLite transactions both hold a shared
        lock and then fail to write: "database is locked".)
        """
        if not self._update(session, model, (key_column == key,),
                            {'updated_at': now}):
            return None
        return session.get(model, key)

    @staticmethod
    def _settings(session):
        row = session.get(models.BalancerSetting, models.CLUSTER)
        hosts = session.scalars(
            sa.select(models.HostSetting)
            .where(models.HostSetting.paused.is_(True))
            .order_by(models.HostSetting.host))
        paused_hosts = {h.host: HostPause(h.host, h.reason, h.updated_by,
                                          h.updated_at) for h in hosts}
        if row is None:
            return BalancerSettings(paused_hosts=paused_hosts)
        return BalancerSettings(
            mode=row.mode, paused=bool(row.paused), reason=row.reason,
            updated_by=row.updated_by, updated_at=row.updated_at,
            paused_hosts=paused_hosts)

    def balancer_settings(self):
        """The operators' settings, as a :class:`BalancerSettings`."""
        with self._reader() as session:
            return self._settings(session)

    @retry.retry_on_deadlock_or_duplicate
    def update_balancer_settings(self, actor, mode=UNSET, paused=None,
                                 reason=None):
        """Set the cluster's mode and/or pause; the new settings.

        :param actor: the user, for ``updated_by`` and the audit trail
        :param mode: one of :data:`~nova_drs.db.models.MODES`, or None to
            go back to each replica's ``[drs_balancer] mode``; not given:
            unchanged
        :param paused: True pauses automatic balancing, False resumes it;
            None: unchanged
        :param reason: why (stored with the change and in the audit event)
        :returns: the :class:`BalancerSettings` after the change
        :raises ValueError: an unknown mode, nothing to change, a reason
            that is not text or too long
        """
        if mode is not UNSET and mode is not None and \
                mode not in models.MODES:
            raise ValueError('unknown mode %r (one of %s)'
                             % (mode, ', '.join(models.MODES)))
        if mode is UNSET and paused is None:
            raise ValueError('nothing to change: give a mode and/or paused')
        reason = _reason(reason)
        now = self.now()
        with self._writer() as session:
            row = self._locked(session, models.BalancerSetting,
                               models.BalancerSetting.name, models.CLUSTER,
                               now)
            if row is None:
                row = models.BalancerSetting(name=models.CLUSTER, mode=None,
                                             paused=False)
                session.add(row)
            before_mode, before_paused = row.mode, bool(row.paused)
            if mode is not UNSET:
                row.mode = mode
            if paused is not None:
                row.paused = bool(paused)
            row.reason = reason
            row.updated_by = actor
            row.updated_at = now
            if mode is not UNSET:
                self._audit(
                    session, now, actor, 'balancer.mode', None,
                    _with_reason('mode %s -> %s' % (
                        before_mode or 'configured',
                        mode or 'configured'), reason),
                    {'from': before_mode, 'to': mode, 'reason': reason})
            if paused is not None:
                kind = 'balancer.paused' if paused else 'balancer.resumed'
                self._audit(
                    session, now, actor, kind, None,
                    _with_reason('automatic balancing %s' % (
                        'paused' if paused else 'resumed'), reason),
                    {'was_paused': before_paused, 'paused': bool(paused),
                     'reason': reason})
            session.flush()
            return self._settings(session)

    @retry.retry_on_deadlock_or_duplicate
    def set_host_paused(self, host, paused, actor, reason=None):
        """Pause or resume the balancing of one host.

        :returns: the host's :class:`~nova_drs.db.models.HostSetting`
        :raises ValueError: no host name, a bad reason
        """
        if not isinstance(host, str) or not host:
            raise ValueError('a host name is required')
        reason = _reason(reason)
        now = self.now()
        with self._writer() as session:
            row = self._locked(session, models.HostSetting,
                               models.HostSetting.host, host, now)
            if row is None:
                row = models.HostSetting(host=host)
                session.add(row)
            was = bool(row.paused)
            row.paused = bool(paused)
            row.reason = reason
            row.updated_by = actor
            row.updated_at = now
            self._audit(
                session, now, actor,
                'host.paused' if paused else 'host.resumed', None,
                _with_reason('balancing of %s %s' % (
                    host, 'paused' if paused else 'resumed'), reason),
                {'host': host, 'was_paused': was, 'paused': bool(paused),
                 'reason': reason})
        return row

    def list_host_settings(self, hosts=None):
        """``{host: HostSetting}``, of ``hosts`` (default: all)."""
        query = sa.select(models.HostSetting)
        if hosts is not None:
            hosts = sorted(set(hosts))
            if not hosts:
                return {}
            query = query.where(models.HostSetting.host.in_(hosts))
        with self._reader() as session:
            return {row.host: row for row in session.scalars(query)}

    # -- replica reports ----------------------------------------------------

    @retry.retry_on_deadlock_or_duplicate
    def report_replica(self, replica_id, host, pid, version, mode,
                       mode_source, strategy, paused, started_at, cycles=0,
                       cycle_errors=0, last_cycle=None, work=None):
        """Write a replica's own row (insert or replace); its heartbeat.

        :param replica_id: the replica (its tooz member id)
        :param host: the machine it runs on; ``pid``: its process
        :param mode: the mode its next cycle plans in
        :param mode_source: ``config`` or ``operator``
        :param paused: it read balancing as paused
        :param last_cycle: a JSON-serialisable summary of its latest cycle
        :param work: its counters (JSON-serialisable), see
            :meth:`nova_drs.balancer.manager.BalancerManager.work`
        :raises ValueError: an unknown mode or mode source
        """
        if mode not in models.MODES:
            raise ValueError('unknown mode %r' % (mode,))
        if mode_source not in models.MODE_SOURCES:
            raise ValueError('unknown mode source %r' % (mode_source,))
        values = {
            'host': host, 'pid': int(pid), 'version': str(version)[:64],
            'mode': mode, 'mode_source': mode_source,
            'strategy': strategy, 'paused': bool(paused),
            'started_at': common.utc(started_at),
            'updated_at': self.now(), 'cycles': int(cycles),
            'cycle_errors': int(cycle_errors),
            'last_cycle': dict(last_cycle) if last_cycle else None,
            'work': dict(work) if work else None,
        }
        with self._writer() as session:
            if not self._update(
                    session, models.ReplicaState,
                    (models.ReplicaState.replica_id == replica_id,),
                    values):
                # NOTE: a concurrent insert of the same id (two processes
                # with one replica_id) fails the commit; the retry updates
                session.add(models.ReplicaState(replica_id=replica_id,
                                                **values))

    def list_replica_states(self):
        """Every replica row, by replica id."""
        return self._list(sa.select(models.ReplicaState)
                          .order_by(models.ReplicaState.replica_id))

    @retry.retry_on_deadlock
    def delete_replica_state(self, replica_id):
        """Forget a replica (it stopped cleanly); True if a row was gone.

        The rows of replicas that stopped without saying so are deleted by
        :meth:`~nova_drs.db.api.Database.purge`.
        """
        with self._writer() as session:
            return bool(self._delete(
                session, models.ReplicaState,
                models.ReplicaState.replica_id == replica_id))
