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

:meth:`Actuator.follow` follows a migration that someone else asked for
(a balancer replica that died while following it): by its id, or, when
the id was never stored, the server's newest live-migration record since
a time. The same timeout handling applies, counted from the record's
creation.

Both take optional callbacks: ``on_record(result)``, called once in the
caller's thread when the migration record is known (or known not to
exist), and ``on_poll(status)``, called after each status read, which
stops the following by returning False (the migration goes on in Nova;
the result is ``unknown`` with ``given_up`` set).

An :class:`Actuator` keeps no state between calls: one instance may run
several migrations at once from several threads (the service limits how
many). The user needs the admin role: with Nova's default policy, live
migration to a named host and the error details of instance actions are
admin-only (see doc/source/balancer.rst).
"""

import dataclasses
import datetime
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_log import log as logging
from oslo_utils import timeutils

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
#: what openstacksdk raises for a server that does not exist
NOT_FOUND = sdk_exc.NotFoundException

#: Seconds to wait for the migration record of an accepted request.
RECORD_WAIT = 30.0

#: The longest a live-migration request may take when the connection does
#: not say (keystoneauth's session timeout; ``[drs_nova] timeout``).
DEFAULT_REQUEST_TIMEOUT = 120.0

#: When :meth:`Actuator.follow` looks for a record created since a time
#: taken from the balancer's clock, Nova's clock may differ by this much.
CLOCK_SKEW = 30.0


def _utcnow():
    return timeutils.utcnow(with_timezone=True)


def _as_utc(value):
    """An aware UTC datetime from a datetime or an ISO 8601 string.

    Naive values are UTC (databases, Nova's API); None or an unreadable
    string gives None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            # NOTE: iso8601 reads Nova's forms ("T" or " ", with or
            # without a zone; naive is UTC)
            value = timeutils.parse_isotime(value.strip())
        except ValueError:
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


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
    #: the caller's ``on_poll`` stopped the following (status ``unknown``;
    #: the migration goes on in Nova)
    given_up: bool = False
    #: how the outcome was decided when it was not from Nova's record
    note: str = None

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


class _Callbacks(object):
    """The caller's ``on_record`` and ``on_poll``, called safely.

    What they raise is a bug of the caller's: it is logged and the
    migration is followed as if they had not been given.
    """

    def __init__(self, server_id, on_record=None, on_poll=None):
        self.server_id = server_id
        self._on_record = on_record
        self._on_poll = on_poll
        self._recorded = False
        self.given_up = False

    def record(self, result):
        """Call ``on_record`` (once)."""
        if self._recorded:
            return
        self._recorded = True
        if self._on_record is None:
            return
        try:
            self._on_record(result)
        except Exception:
            LOG.exception('server %s: on_record callback failed',
                          self.server_id)

    def poll(self, status):
        """Call ``on_poll``; False once the caller gave up."""
        if self.given_up:
            return False
        if self._on_poll is None:
            return True
        try:
            keep = self._on_poll(status)
        except Exception:
            LOG.exception('server %s: on_poll callback failed',
                          self.server_id)
            return True
        if keep is False:
            self.given_up = True
        return not self.given_up


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
        session = getattr(conn, 'session', None)
        timeout = getattr(session, 'timeout', None)
        #: the longest a request may take (it bounds how long a record
        #: may still appear, see :meth:`follow`)
        self.request_timeout = (
            float(timeout) if isinstance(timeout, (int, float)) and timeout
            else DEFAULT_REQUEST_TIMEOUT)

    # -- Nova calls that never raise for API trouble --

    def _live_migrations(self, server_id):
        """Live-migration records of a server, from /os-migrations."""
        return [m for m in self.conn.compute.migrations(server_id=server_id)
                if m.migration_type == LIVE_MIGRATION]

    def _find_record(self, server_id, known, deadline, callbacks):
        """The server's newest live-migration record not in ``known``."""
        # NOTE: hand-written: a poll of Nova every poll_interval until a
        # deadline or the caller's say, not a retry policy
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
            if self.clock() >= deadline or not callbacks.poll(None):
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

    def server_host(self, server_id):
        """The compute host of a server now (None: it has none).

        :raises NOT_FOUND: the server does not exist
        :raises: one of :data:`API_ERRORS` when Nova cannot be read
        """
        return self.conn.compute.get_server(server_id).compute_host

    def _host_now(self, server_id):
        return self._where(server_id)[0]

    def _where(self, server_id):
        """(the server's host, the error reading it) - one is None."""
        try:
            return self.conn.compute.get_server(server_id).compute_host, None
        except API_ERRORS as e:
            LOG.warning('server %s: cannot read its host: %s', server_id,
                        _api_error(e))
            return None, e

    # -- the migration --

    def live_migrate(self, server, target=None, on_record=None,
                     on_poll=None):
        """Live-migrate ``server`` (id or Server) to host ``target``.

        ``target`` is a compute service host name (``server.compute_host``
        of servers there); None lets Nova's scheduler choose. Blocks until
        the migration has ended, at most about ``migration_timeout`` +
        ``timeout_action_wait`` seconds.

        :param on_record: ``on_record(result)``, called once, in this
            thread, as soon as the migration record is known
            (``result.migration_id``, ``migration_uuid`` and ``source``
            set) or once it is clear that there is none (Nova refused the
            request, no record appeared, the caller gave up); at the
            latest before this method returns
        :param on_poll: ``on_poll(status)``, called after each look at
            the migration: Nova's status, or None while the record of an
            accepted request has not appeared yet. Returning False stops
            the following: the result is ``unknown`` with ``given_up``
            set, and nothing is aborted in Nova.
        :returns: a :class:`MigrationResult`; never raises for Nova's
            refusals or failures
        """
        server_id = getattr(server, 'id', server)
        result = MigrationResult(server=server_id, target=target,
                                 started_at=_utcnow())
        callbacks = _Callbacks(server_id, on_record, on_poll)
        t0 = self.clock()
        try:
            self._run(result, t0, callbacks)
        except API_ERRORS as e:
            # anything the steps below did not expect from the API
            result.status = UNKNOWN
            result.error = result.error or _api_error(e)
        finally:
            callbacks.record(result)
        result.finished_at = _utcnow()
        self._log_result('live migration', result)
        return result

    @staticmethod
    def _log_result(what, result):
        if not result.succeeded:
            LOG.warning('%s of %s to %s: %s%s', what, result.server,
                        result.target or '(scheduler)', result.status,
                        ' (%s)' % result.error if result.error else '')
        else:
            LOG.info('%s of %s: %s -> %s completed in %.1f s', what,
                     result.server, result.source, result.host,
                     result.duration_s or 0.0)

    def follow(self, server, migration_id=None, since=None, target=None,
               on_poll=None):
        """Follow a live migration someone else asked Nova for.

        For a migration whose follower went away (a balancer replica that
        died): the record ``migration_id``, or, when its id was never
        stored, the server's newest live-migration record created at or
        after ``since`` (to ``target``, when given). The timeout is
        counted from the record's creation (``since`` without one), and
        handled as :meth:`live_migrate` does.

        Without any record, the outcome is decided from where the server
        is: on ``target``, ``completed`` (``note`` says how it was
        decided); elsewhere ``rejected`` (the request never reached Nova)
        once no request started at ``since`` can still create a record;
        ``unknown`` when Nova cannot be read.

        :param since: when the migration was asked for (a datetime; naive
            means UTC), from the balancer's clock
        :param on_poll: as for :meth:`live_migrate`
        :returns: a :class:`MigrationResult`; never raises for API errors
        :raises ValueError: neither ``migration_id`` nor ``since``
        """
        if migration_id is None and since is None:
            raise ValueError('follow() needs a migration id or a time')
        server_id = getattr(server, 'id', server)
        since = _as_utc(since)
        result = MigrationResult(server=server_id, target=target,
                                 started_at=since or _utcnow(),
                                 migration_id=migration_id)
        callbacks = _Callbacks(server_id, on_poll=on_poll)
        try:
            self._resume(result, since, callbacks)
        except API_ERRORS as e:
            result.status = UNKNOWN
            result.error = result.error or _api_error(e)
        result.finished_at = _utcnow()
        self._log_result('followed live migration', result)
        return result

    def _record_deadline(self, since, migration_id):
        """Monotonic time until which a missing record may still appear.

        A stored id names a record that exists: look for it for
        :data:`RECORD_WAIT` (Nova may not answer at once). Otherwise the
        request may still be on its way (its sender stalled, not dead):
        Nova creates the record while it handles the request, so none can
        appear after the longest request plus :data:`RECORD_WAIT`.
        """
        if migration_id is not None or since is None:
            return self.clock() + RECORD_WAIT
        elapsed = (_utcnow() - since).total_seconds()
        left = self.request_timeout + RECORD_WAIT - elapsed
        return self.clock() + max(0.0, left)

    def _existing_record(self, server_id, migration_id, since, target,
                         deadline, callbacks):
        """(the record, or None; whether the last listing worked)."""
        earliest = (since - datetime.timedelta(seconds=CLOCK_SKEW)
                    if since is not None else None)
        # NOTE: hand-written: a poll, not a retry policy (see _find_record)
        while True:
            try:
                records = self._live_migrations(server_id)
                listed = True
            except API_ERRORS as e:
                LOG.warning('server %s: cannot list its migrations: %s',
                            server_id, _api_error(e))
                records, listed = [], False
            if migration_id is not None:
                found = [m for m in records if m.id == migration_id]
            else:
                found = [m for m in records
                         if self._created_since(m, earliest)
                         and (target is None
                              or getattr(m, 'dest_compute', None)
                              in (None, target))]
            if found:
                return max(found, key=lambda m: m.id), True
            if self.clock() >= deadline or not callbacks.poll(None):
                return None, listed
            self.sleep(self.poll_interval)

    @staticmethod
    def _created_since(record, earliest):
        created = _as_utc(getattr(record, 'created_at', None))
        # NOTE: a record without a readable time cannot be placed: taking
        # it could follow an older migration; leave it
        return created is not None and created >= earliest

    def _resume(self, result, since, callbacks):
        server_id, migration_id = result.server, result.migration_id
        record, listed = self._existing_record(
            server_id, migration_id, since, result.target,
            self._record_deadline(since, migration_id), callbacks)
        if record is not None:
            result.migration_id = record.id
            result.migration_uuid = getattr(record, 'uuid', None)
            result.source = getattr(record, 'source_compute', None)
            created = _as_utc(getattr(record, 'created_at', None)) or since
            if created is not None:
                result.started_at = created
                age = (_utcnow() - created).total_seconds()
                t0 = self.clock() - max(0.0, age)
            else:
                t0 = self.clock()
            self._follow_and_conclude(result, record, t0, callbacks)
            return
        if callbacks.given_up:
            self._given_up(result, 'before a record was found')
            return
        self._decide_without_record(result, since, listed)

    def _decide_without_record(self, result, since, listed):
        """No record: decide from where the server is."""
        host, error = self._where(result.server)
        result.host = host
        what = ('migration %s' % result.migration_id
                if result.migration_id is not None else
                'no live migration of the server since %s'
                % (since.isoformat() if since else '?'))
        if error is not None:
            status = (getattr(error, 'status_code', None)
                      or getattr(error, 'http_status', None))
            if status == 404:
                # a deleted server: no migration of it can run any more
                result.status = REJECTED
                result.http_status = 404
                result.error = ('%s found, and the server no longer '
                                'exists: %s' % (what, _api_error(error)))
                return
            result.status = UNKNOWN
            result.error = ('%s found, and the server cannot be read: %s'
                            % (what, _api_error(error)))
            return
        if result.target is not None and host == result.target:
            # NOTE: Nova records every live migration, so a server on the
            # target without a record got there another way (an operator,
            # an evacuation) or the record is out of sight (archived, or
            # older than ``since`` by more than the clock skew allowed).
            # Either way nothing of this action runs in Nova any more and
            # what it was for is done: "completed" marks no pair bad and
            # re-plans nothing, and hides no running migration.
            result.status = 'completed'
            result.note = ('%s found; the server is on its target %s: '
                           'counted as completed' % (what, host))
            return
        if not listed:
            result.status = UNKNOWN
            result.error = ("%s found: the server's migrations cannot be "
                            "listed" % what)
            return
        if result.migration_id is not None:
            # the record was seen once (its id was stored) and is gone
            # (archived with nova-manage); the server is not on its
            # target, so the migration did not complete
            result.status = 'failed'
            result.error = ('migration %s is no longer in Nova and the '
                            'server is on %s, not on its target'
                            % (result.migration_id, host))
            return
        result.status = REJECTED
        result.error = ('%s found, none can appear any more, and the '
                        'server is still on %s: the request never reached '
                        'Nova' % (what, host))

    @staticmethod
    def _not_started(result, what, e):
        """Nothing was asked of Nova: report why as ``rejected``."""
        result.status = REJECTED
        # openstacksdk's status_code, keystoneauth's http_status
        result.http_status = (getattr(e, 'status_code', None)
                              or getattr(e, 'http_status', None))
        result.error = '%s: %s' % (what, _api_error(e))

    def _run(self, result, t0, callbacks):
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
                                   self.clock() + RECORD_WAIT, callbacks)
        if record is None:
            result.status = UNKNOWN
            if callbacks.given_up:
                self._given_up(result, 'before its record appeared')
            else:
                result.error = request_error or (
                    'Nova accepted the request but no live-migration '
                    'record appeared within %d s' % RECORD_WAIT)
            result.host = self._host_now(server_id)
            return
        result.migration_id = record.id
        result.migration_uuid = getattr(record, 'uuid', None)
        callbacks.record(result)
        self._follow_and_conclude(result, record, t0, callbacks)

    @staticmethod
    def _given_up(result, when):
        result.status = UNKNOWN
        result.given_up = True
        result.error = ('no longer followed: given up by the caller %s '
                        '(e.g. another replica took the action over); '
                        'nothing was aborted in Nova' % when)

    def _follow_and_conclude(self, result, record, t0, callbacks):
        """Follow ``record`` to its end and fill in the result."""
        server_id = result.server
        status = record.status
        if callbacks.poll(status):
            status = self._follow(result, status, t0, callbacks)
        result.status = status if status in FINAL_STATUSES else UNKNOWN
        result.host = self._host_now(server_id)
        if result.status == UNKNOWN and callbacks.given_up:
            self._given_up(result, 'while it was %s' % status)
        elif result.status == UNKNOWN and result.timeout_action is None:
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

    def _follow(self, result, status, t0, callbacks):
        """Poll until a final status; act once on timeout. Return status.

        Returns early, with a status that is not final, when Nova keeps
        refusing the timeout action or the caller gives up.
        """
        server_id, migration_id = result.server, result.migration_id
        acted_at = None
        # NOTE: hand-written: a poll, not a retry policy (see _find_record)
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
            if not callbacks.poll(status):
                return status
        return status
