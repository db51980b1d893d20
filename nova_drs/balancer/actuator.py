# SPDX-License-Identifier: Apache-2.0
"""Run one live migration through Nova and follow it to its end.

:meth:`Actuator.live_migrate` asks Nova to live-migrate a server to a
named host, **without** ``force``: Nova's scheduler still checks the
destination (filters, capacity in Placement, server group policies), so
the balancer can never put a server where Nova would not. Then it follows
the migration record: ``GET /servers/{id}/migrations`` while the migration
is in progress, ``GET /os-migrations`` once it has left that list, until
it is ``completed``, ``cancelled``, ``error`` or ``failed``.

A migration still in progress ``[drs_actuator] migration_timeout``
seconds after the request is aborted (``DELETE
/servers/{id}/migrations/{mid}``) or forced to complete (``POST
.../action {"force_complete": null}``), as ``[drs_actuator]
timeout_action`` says; the result says that the timeout was reached and
what was done.

Nothing is raised for a migration that fails or that Nova refuses: the
:class:`MigrationResult` carries the status and Nova's error text (for
example ``No valid host was found.`` with HTTP 400 when the destination is
disabled or full, 409 when the server is busy). Only programming errors
escape.

An :class:`Actuator` keeps no state between calls: one instance may run
several migrations at once from several threads (the service limits how
many). The user needs the admin role: with Nova's default policy, live
migration to a named host and the error details of instance actions are
admin-only (see doc/balancer.rst).
"""

import dataclasses
import datetime
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: Nova migration statuses after which nothing more happens.
FINAL_STATUSES = frozenset(('completed', 'done', 'cancelled', 'error',
                            'failed'))

#: Result statuses besides Nova's: the API refused the request, or the
#: actuator lost track of the migration (Nova may still finish it).
REJECTED = 'rejected'
UNKNOWN = 'unknown'

ABORT = 'abort'
FORCE_COMPLETE = 'force_complete'

LIVE_MIGRATION = 'live-migration'

#: What a call to Nova may raise besides HTTP errors: openstacksdk's
#: errors, and keystoneauth's for connection failures and timeouts.
API_ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)

#: Seconds to wait for the migration record of an accepted request.
RECORD_WAIT = 30.0


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _api_error(e):
    """Nova's message from an openstacksdk exception."""
    details = getattr(e, 'details', None)
    if details:
        return str(details).strip()
    return str(e).strip() or type(e).__name__


@dataclasses.dataclass
class MigrationResult:
    """How one live migration ended."""

    server: str
    #: the requested destination (None: Nova's scheduler chose)
    target: str
    #: the server's host before the migration (None if it was not read)
    source: str = None
    #: Nova's final migration status (``completed``, ``cancelled``,
    #: ``error``, ``failed``), or ``rejected`` (Nova refused the request;
    #: nothing ran) or ``unknown`` (the migration was lost from view)
    status: str = UNKNOWN
    #: the server's host at the end
    host: str = None
    #: Nova's error message, or what went wrong, when not completed
    error: str = None
    #: HTTP status of a refused request
    http_status: int = None
    migration_id: int = None
    migration_uuid: str = None
    started_at: datetime.datetime = None
    finished_at: datetime.datetime = None
    #: the migration ran past ``[drs_actuator] migration_timeout``
    timed_out: bool = False
    #: what was done about it and accepted by Nova: ``abort``,
    #: ``force_complete`` or None
    timeout_action: str = None

    @property
    def succeeded(self):
        return self.status == 'completed'

    @property
    def duration_s(self):
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self):
        out = dataclasses.asdict(self)
        for key in ('started_at', 'finished_at'):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        out['duration_s'] = self.duration_s
        out['succeeded'] = self.succeeded
        return out


class Actuator(object):
    """Live-migrates servers through openstacksdk, one call per migration.

    :param conn: an :class:`openstack.connection.Connection` with the
        admin role (see :mod:`nova_drs.balancer.clients`)
    :param conf: the configuration (``[drs_actuator]`` is read)
    :param clock: monotonic seconds (tests replace it)
    :param sleep: waits a number of seconds (tests replace it)
    """

    def __init__(self, conn, conf, clock=time.monotonic, sleep=time.sleep):
        self.conn = conn
        self.poll_interval = conf.drs_actuator.poll_interval
        self.timeout = conf.drs_actuator.migration_timeout
        self.timeout_action = conf.drs_actuator.timeout_action
        self.action_wait = conf.drs_actuator.timeout_action_wait
        self.clock = clock
        self.sleep = sleep

    # -- Nova calls that never raise for API trouble --

    def _live_migrations(self, server_id):
        """Live-migration records of a server, from /os-migrations."""
        return [m for m in self.conn.compute.migrations(server_id=server_id)
                if m.migration_type == LIVE_MIGRATION]

    def _find_record(self, server_id, known, deadline):
        """The server's newest live-migration record not in ``known``."""
        while True:
            try:
                new = [m for m in self._live_migrations(server_id)
                       if m.id not in known]
            except API_ERRORS as e:
                LOG.warning('server %s: cannot list its migrations: %s',
                            server_id, _api_error(e))
                new = []
            if new:
                return max(new, key=lambda m: m.id)
            if self.clock() >= deadline:
                return None
            self.sleep(self.poll_interval)

    def _status(self, server_id, migration_id, last):
        """The migration's current status; ``last`` when it cannot be read.

        In progress, the migration is listed by /servers/{id}/migrations;
        after that only /os-migrations has it.
        """
        try:
            for m in self.conn.compute.server_migrations(server_id):
                if m.id == migration_id:
                    return m.status
            for m in self._live_migrations(server_id):
                if m.id == migration_id:
                    return m.status
        except API_ERRORS as e:
            LOG.warning('server %s: cannot read migration %s: %s',
                        server_id, migration_id, _api_error(e))
        return last

    def _act_on_timeout(self, server_id, migration_id, status):
        """Abort or force-complete; True when Nova accepted it."""
        try:
            if self.timeout_action == FORCE_COMPLETE:
                if status != 'running':
                    # Nova force-completes only a running migration
                    return False
                self.conn.compute.force_complete_server_migration(
                    migration_id, server_id)
            else:
                self.conn.compute.abort_server_migration(
                    migration_id, server_id, ignore_missing=False)
        except API_ERRORS as e:
            LOG.warning('server %s: %s of migration %s (%s) refused, will '
                        'retry: %s', server_id, self.timeout_action,
                        migration_id, status, _api_error(e))
            return False
        LOG.info('server %s: migration %s past %d s: %s requested',
                 server_id, migration_id, self.timeout, self.timeout_action)
        return True

    def _failure_details(self, server_id):
        """Nova's error for the server's latest live migration, or None.

        From the instance action's events: ``details`` (microversion
        2.84), else the last line of the traceback (admins see it).
        """
        try:
            actions = [a for a in self.conn.compute.server_actions(server_id)
                       if a.action == LIVE_MIGRATION]
            if not actions:
                return None
            latest = max(actions, key=lambda a: a.start_time or '')
            action = self.conn.compute.get_server_action(
                latest.request_id, server_id)
        except API_ERRORS as e:
            LOG.debug('server %s: no action details: %s', server_id,
                      _api_error(e))
            return None
        for event in action.events or ():
            result = event.result if not isinstance(event, dict) \
                else event.get('result')
            if str(result).lower() != 'error':
                continue
            get = (event.get if isinstance(event, dict)
                   else lambda k: getattr(event, k, None))
            details = get('details')
            if details:
                return '%s: %s' % (get('event'), str(details).strip())
            lines = [line.strip() for line in
                     str(get('traceback') or '').splitlines()
                     if line.strip()]
            if lines:
                return '%s: %s' % (get('event'), lines[-1])
        return action.message or None

    def _host_now(self, server_id):
        try:
            return self.conn.compute.get_server(server_id).compute_host
        except API_ERRORS as e:
            LOG.warning('server %s: cannot read its host: %s', server_id,
                        _api_error(e))
            return None

    # -- the migration --

    def live_migrate(self, server, target=None):
        """Live-migrate ``server`` (id or Server) to host ``target``.

        ``target`` is a compute service host name (``server.compute_host``
        of servers there); None lets Nova's scheduler choose. Blocks until
        the migration has ended, at most about ``migration_timeout`` +
        ``timeout_action_wait`` seconds.

        :returns: a :class:`MigrationResult`; never raises for Nova's
            refusals or failures
        """
        server_id = getattr(server, 'id', server)
        result = MigrationResult(server=server_id, target=target,
                                 started_at=_utcnow())
        t0 = self.clock()
        try:
            self._run(result, t0)
        except API_ERRORS as e:
            # anything the steps below did not expect from the API
            result.status = UNKNOWN
            result.error = result.error or _api_error(e)
        result.finished_at = _utcnow()
        if not result.succeeded:
            LOG.warning('live migration of %s to %s: %s%s', server_id,
                        target or '(scheduler)', result.status,
                        ' (%s)' % result.error if result.error else '')
        else:
            LOG.info('live migration of %s: %s -> %s completed in %.1f s',
                     server_id, result.source, result.host,
                     result.duration_s)
        return result

    @staticmethod
    def _not_started(result, what, e):
        """Nothing was asked of Nova: report why as ``rejected``."""
        result.status = REJECTED
        # openstacksdk's status_code, keystoneauth's http_status
        result.http_status = (getattr(e, 'status_code', None)
                              or getattr(e, 'http_status', None))
        result.error = '%s: %s' % (what, _api_error(e))

    def _run(self, result, t0):
        server_id = result.server
        compute = self.conn.compute
        try:
            result.source = compute.get_server(server_id).compute_host
            result.host = result.source
        except API_ERRORS as e:
            self._not_started(result, 'cannot read the server', e)
            return
        try:
            known = {m.id for m in self._live_migrations(server_id)}
        except API_ERRORS as e:
            self._not_started(result, "cannot list the server's migrations",
                              e)
            return

        request_error = None
        try:
            compute.live_migrate_server(server_id, host=result.target,
                                        force=False,
                                        block_migration='auto')
        except sdk_exc.HttpException as e:
            if e.status_code is not None and 400 <= e.status_code < 500:
                result.status = REJECTED
                result.http_status = e.status_code
                result.error = ('Nova refused the live migration (HTTP %s): '
                                '%s' % (e.status_code, _api_error(e)))
                return
            # a 5xx or no answer: Nova may still have started it
            request_error = _api_error(e)
        except API_ERRORS as e:
            request_error = _api_error(e)
        except ValueError as e:
            # the sdk: this cloud cannot live-migrate to a host unforced
            result.status = REJECTED
            result.error = str(e)
            return

        record = self._find_record(server_id, known,
                                   self.clock() + RECORD_WAIT)
        if record is None:
            result.status = UNKNOWN
            result.error = request_error or (
                'Nova accepted the request but no live-migration record '
                'appeared within %d s' % RECORD_WAIT)
            result.host = self._host_now(server_id)
            return
        result.migration_id = record.id
        result.migration_uuid = getattr(record, 'uuid', None)
        status = self._follow(result, record.status, t0)

        result.status = status if status in FINAL_STATUSES else UNKNOWN
        result.host = self._host_now(server_id)
        if result.status == UNKNOWN and result.timeout_action is None:
            result.error = ('migration %s still %s: Nova refused to %s it '
                            'for %d s; no longer followed'
                            % (record.id, status, self.timeout_action,
                               self.action_wait))
        elif result.status == UNKNOWN:
            result.error = ('migration %s still %s %d s after %s; no longer '
                            'followed' % (record.id, status,
                                          self.action_wait,
                                          self.timeout_action))
        elif result.status in ('error', 'failed'):
            result.error = (self._failure_details(server_id)
                            or 'migration %s ended %s' % (record.id, status))
        elif result.status == 'cancelled' and result.timeout_action is None:
            result.error = 'migration %s was cancelled' % record.id
        elif result.status == 'cancelled':
            result.error = ('aborted after migration_timeout (%d s)'
                            % self.timeout)

    def _follow(self, result, status, t0):
        """Poll until a final status; act once on timeout. Return status."""
        server_id, migration_id = result.server, result.migration_id
        acted_at = None
        while status not in FINAL_STATUSES:
            now = self.clock()
            if now - t0 >= self.timeout:
                result.timed_out = True
                if acted_at is None:
                    if self._act_on_timeout(server_id, migration_id, status):
                        result.timeout_action = self.timeout_action
                        acted_at = now
                    elif now - t0 >= self.timeout + self.action_wait:
                        # Nova kept refusing the action
                        return status
                elif now - acted_at >= self.action_wait:
                    return status
            self.sleep(self.poll_interval)
            status = self._status(server_id, migration_id, status)
        return status
