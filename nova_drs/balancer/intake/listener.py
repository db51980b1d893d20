# SPDX-License-Identifier: Apache-2.0
"""The balancer's metrics intake: a batch notification listener.

Every ``nova-drs-agent`` publishes ``drs.host.metrics`` (each cycle) and
``drs.host.hotspot`` (when the set of hot resources of its host changes)
with priority ``sample`` on the topic ``[drs_agent] topic``
(``doc/source/metrics-payload.rst``). :class:`MetricsListener` reads them
with an oslo.messaging batch notification listener (threading executor: native
threads, no eventlet; the service calls
:func:`nova_drs.agent.use_native_threads` first, as the agent does) and
:class:`MetricsEndpoint` checks every message before handing it to a
:class:`MetricsHandler`, normally the
:class:`~nova_drs.balancer.view.host_view.HostView`.

A message is dropped, counted and logged (at most one warning per kind of
fault every ``[drs_listener] drop_log_interval`` seconds) when

* its publisher id is not ``nova-drs-agent:<host>``, or its payload names
  another host than ``<host>`` (a misrouted message);
* ``[drs_signing] secret`` is set and the payload is not signed
  (``unsigned``), or its signature does not verify for this event type,
  this publisher and this payload (``bad_signature``; see
  :mod:`nova_drs.notifications.signing` and
  ``doc/source/security.rst``). Without a secret nothing is verified,
  and the listener says so at start;
* its payload fails :func:`nova_drs.notifications.payload.validate`
  (malformed, out of bounds, or a major version this code does not read),
  or its timestamp is not a real date;
* its payload has no sequence numbers (before 1.2) and its timestamp is
  more than ``[drs_listener] max_clock_skew`` seconds ahead of the
  balancer's clock (``future``): such samples are ordered by their
  timestamps, so one forged or misdated would hide the host's next ones.
  A sample with sequence numbers is ordered by them: the host view keeps
  it and judges whether it is current against the host's clock
  (:mod:`nova_drs.balancer.view.host_clock`);
* its event type matches ``^drs\\.host\\.`` but is unknown here (an agent
  newer than this balancer).

The checks cost some 1-1.5 ms for a payload of 40 guests (validation with
the compiled schema, and the signature: a canonical serialisation and one
HMAC); ``python -m nova_drs.notifications.bench`` measures them.

Nothing ever raises out of the endpoint: a faulty message would otherwise
be requeued and redelivered forever. Every message is acknowledged after
its batch was handled, so a balancer that dies with a batch in hand gets
it again (the host view drops the duplicates: they are not newer than what
it has).

Pools. In the replica design every replica must see the metrics of the
hosts it owns, and which hosts it owns changes when replicas come and go.
Routing metrics to their owner is not possible (the agents send to one
topic), so every replica reads **all** the metrics, from its own pool
``drs-balancer-<replica id>``; a single balancer reads the agents' default
queue ``<topic>.sample`` instead. See :func:`pool_name` and
``[drs_listener] pool``.
"""

import abc
import collections
import dataclasses
import datetime
import re
import reprlib
import threading
import time

from oslo_log import log as logging
import oslo_messaging

from nova_drs.agent import publisher as agent_publisher
from nova_drs.notifications import payload as payload_schema
from nova_drs.notifications import signing

LOG = logging.getLogger(__name__)

#: the event types this listener is given by oslo.messaging
EVENT_TYPE_FILTER = r'^drs\.host\.'
#: the pool of a replica is POOL_PREFIX-<replica id>
POOL_PREFIX = 'drs-balancer'

#: why a message was dropped: the keys of :attr:`MetricsEndpoint.dropped`
MALFORMED = 'malformed'
UNSUPPORTED_VERSION = 'unsupported_version'
UNKNOWN_EVENT = 'unknown_event'
BAD_PUBLISHER = 'bad_publisher'
HOST_MISMATCH = 'host_mismatch'
UNSIGNED = 'unsigned'
BAD_SIGNATURE = 'bad_signature'
FUTURE = 'future'
HANDLER_ERROR = 'handler_error'
DROP_REASONS = (MALFORMED, UNSUPPORTED_VERSION, UNKNOWN_EVENT,
                BAD_PUBLISHER, HOST_MISMATCH, UNSIGNED, BAD_SIGNATURE,
                FUTURE, HANDLER_ERROR)

_PUBLISHER_RE = re.compile(r'^%s:(.+)$' % re.escape(agent_publisher.BINARY))
_TIMESTAMP_RE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?'
                           r'(?:Z|([+-])(\d\d):(\d\d))$')


def parse_timestamp(text):
    """An ISO 8601 timestamp of a payload as seconds since the epoch.

    :raises ValueError: not a timestamp of the payload format, or not a
        real date and time (the schema only checks the shape).
    """
    match = _TIMESTAMP_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError('not an ISO 8601 timestamp: %r' % (text,))
    # NOTE: the date's numbers given to datetime() itself, which refuses
    # what is not a real date or time as strptime() did (February 30,
    # hour 24, second 60), at a seventh of its cost: one per report
    date, time_of_day = match.group(1).split('T')
    stamp = datetime.datetime(*map(int, date.split('-')),
                              *map(int, time_of_day.split(':')),
                              tzinfo=datetime.timezone.utc)
    seconds = stamp.timestamp()
    if match.group(2):
        seconds += float('0.' + match.group(2))
    if match.group(3):
        offset = int(match.group(4)) * 3600 + int(match.group(5)) * 60
        seconds -= offset if match.group(3) == '+' else -offset
    return seconds


def pool_name(conf, replica_id=None):
    """The listener pool to read, or None for the default queue.

    ``[drs_listener] pool`` when set; otherwise ``drs-balancer-<replica
    id>`` for a replica, so that each replica gets every message, and None
    (the agents' default queue ``<topic>.sample``) for a single balancer.
    A replica id must be stable across restarts: the pool's queue outlives
    the listener.
    """
    if conf.drs_listener.pool:
        return conf.drs_listener.pool
    if replica_id is not None and str(replica_id):
        return '%s-%s' % (POOL_PREFIX, replica_id)
    return None


@dataclasses.dataclass(frozen=True)
class Report:
    """One checked notification from an agent."""

    #: the host, from the publisher id (and equal to the payload's)
    host: str
    #: ``drs.host.metrics`` or ``drs.host.hotspot``
    event_type: str
    #: the validated payload
    payload: dict
    publisher_id: str
    #: the agent's timestamp of the sample, seconds since the epoch
    sampled_at: float
    #: ``time.monotonic()`` when the batch was taken in
    received_at: float
    message_id: str = None
    #: the agent's run (a UUID drawn at its start) and the number of the
    #: notification in that run (payload 1.2; None before)
    run_id: str = None
    sequence: int = None


class MetricsHandler(metaclass=abc.ABCMeta):
    """What the listener delivers checked notifications to.

    Both methods are called from the listener's worker threads, possibly
    several at once (oslo.messaging's threading executor runs batches in
    a pool of threads), so an implementation must be thread-safe. They
    should return quickly: the messages of a batch are acknowledged after
    the call. An exception is logged, counted as ``handler_error`` and the
    batch's reports are lost; it never stops the listener.
    """

    @abc.abstractmethod
    def on_metrics(self, reports):
        """Take ``drs.host.metrics`` reports, in the order received.

        :param reports: non-empty list of :class:`Report`.
        """

    @abc.abstractmethod
    def on_hotspots(self, reports):
        """Take ``drs.host.hotspot`` reports, in the order received.

        Called after :meth:`on_metrics` for the metrics of the same batch.

        :param reports: non-empty list of :class:`Report`.
        """


class RateLimitedLog:
    """Warnings of one kind at most once every ``interval`` seconds.

    The first of a kind is logged at once; later ones within the interval
    are only counted, and the next warning logged says how many were not.
    """

    def __init__(self, interval, clock=time.monotonic, logger=None):
        self.interval = interval
        self.clock = clock
        self.logger = logger or LOG
        self._lock = threading.Lock()
        self._last = {}
        self._suppressed = collections.Counter()

    def warning(self, kind, message, args):
        """Log ``message % args`` unless one of ``kind`` was just logged.

        :returns: True if it was logged.
        """
        now = self.clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._suppressed[kind] += 1
                return False
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += (' (%(suppressed)d more of this kind in the last '
                        '%(interval)g s were not logged)')
            args = dict(args, suppressed=suppressed, interval=self.interval)
        self.logger.warning(message, args)
        return True


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 200


def _short(value, limit=80):
    # NOTE: not repr(): a forged value may be nested deeper than it can go
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


class BatchEndpoint(metaclass=abc.ABCMeta):
    """The shared part of the notification endpoints.

    Drops are counted and logged at a bounded rate; a batch never raises.
    A subclass sets :attr:`what` (how its notifications are named in the
    logs), implements ``_handle(messages)`` and calls :meth:`_take` from
    the method named after each priority it listens to.

    :param handler: what the good notifications are delivered to
    :param log_interval: seconds between two warnings of the same kind
    :param clock: monotonic clock stamped on each batch
    :param logger: the logger of the warnings (the subclass's module's)
    """

    #: how the notifications are named in the logs
    what = 'notification'

    def __init__(self, handler, log_interval=60.0, clock=time.monotonic,
                 logger=None):
        self.handler = handler
        self.clock = clock
        self.logger = logger or LOG
        self.log = RateLimitedLog(log_interval, clock, logger=self.logger)
        self._lock = threading.Lock()
        #: reason (one of DROP_REASONS) -> notifications dropped
        self.dropped = collections.Counter()
        self.batches = 0
        #: monotonic time of the last batch (None before the first)
        self.last_batch_at = None

    def _take(self, messages):
        try:
            self._handle(messages)
        except Exception:
            # a bug here must neither kill the worker nor requeue the
            # batch for ever
            self._count(HANDLER_ERROR, len(messages))
            self.logger.exception('Dropped a batch of %d %ss',
                                  len(messages), self.what)
        return oslo_messaging.NotificationResult.HANDLED

    @abc.abstractmethod
    def _handle(self, messages):
        """Check and deliver one batch."""

    def _count(self, reason, n=1):
        with self._lock:
            self.dropped[reason] += n

    def _drop(self, reason, message, why):
        self._count(reason)
        self.log.warning(
            reason, 'Dropped a %(event)s ' + self.what + ' from '
            '%(publisher)s (message %(id)s): %(why)s',
            {'event': _short(message.get('event_type')),
             'publisher': _short(message.get('publisher_id')),
             'id': _short((message.get('metadata') or {}).get(
                 'message_id')),
             'why': why})


class MetricsEndpoint(BatchEndpoint):
    """Batch endpoint of the agents' notifications: check, count, deliver.

    :param handler: a :class:`MetricsHandler`.
    :param log_interval: seconds between two warnings of the same kind.
    :param clock: monotonic clock stamped on each batch.
    :param verifier: a :class:`nova_drs.notifications.signing.Verifier`,
        or None to accept unsigned payloads (signatures are then ignored).
    :param max_clock_skew: seconds a sample may be stamped ahead of
        ``wall_clock``.
    :param wall_clock: the balancer's clock, seconds since the epoch.
    """

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=EVENT_TYPE_FILTER)

    def __init__(self, handler, log_interval=60.0, clock=time.monotonic,
                 verifier=None, max_clock_skew=60.0, wall_clock=time.time):
        super().__init__(handler, log_interval, clock)
        self.verifier = verifier
        self.max_clock_skew = float(max_clock_skew)
        self.wall_clock = wall_clock
        #: event type -> notifications delivered to the handler
        self.accepted = collections.Counter()
        # compiled now: the first hotspot must not wait for it
        payload_schema.prepare()

    def sample(self, messages):
        """oslo.messaging entry point for a batch of ``sample`` messages."""
        return self._take(messages)

    def check(self, message, received_at, now_wall=None):
        """A :class:`Report` for a good message; None (counted) otherwise.

        :param message: oslo.messaging's dict with ``publisher_id``,
            ``event_type``, ``payload`` and ``metadata``.
        :param received_at: monotonic time of the batch.
        :param now_wall: the balancer's wall clock (read if not given).
        """
        event_type = message.get('event_type')
        if event_type not in payload_schema.EVENT_TYPES:
            self._drop(UNKNOWN_EVENT, message,
                       'unknown event type (this balancer reads %s)'
                       % ', '.join(payload_schema.EVENT_TYPES))
            return None
        publisher_id = message.get('publisher_id')
        match = (_PUBLISHER_RE.match(publisher_id)
                 if isinstance(publisher_id, str) else None)
        if match is None:
            self._drop(BAD_PUBLISHER, message,
                       'the publisher id is not %s:<host>'
                       % agent_publisher.BINARY)
            return None
        host = match.group(1)
        doc = message.get('payload')
        try:
            payload_schema.check_version(doc)
            # NOTE: the signature covers the payload as sent, keys of a
            # newer minor version included: verified before validate()
            # drops them
            finite = self._verify(event_type, publisher_id, host, doc,
                                  message)
            if finite is None:
                return None
            doc = payload_schema.validate(doc, event_type,
                                          finite_checked=finite)
        except payload_schema.UnsupportedVersion as e:
            self._drop(UNSUPPORTED_VERSION, message, e)
            return None
        except payload_schema.PayloadError as e:
            self._drop(MALFORMED, message, e)
            return None
        if event_type == payload_schema.METRICS_EVENT:
            named, stamp = doc['host']['name'], doc['host']['timestamp']
        else:
            named, stamp = doc['host'], doc['timestamp']
        if named != host:
            self._drop(HOST_MISMATCH, message,
                       'the payload is about host %s' % _short(named))
            return None
        try:
            sampled_at = parse_timestamp(stamp)
        except ValueError as e:
            self._drop(MALFORMED, message, e)
            return None
        now_wall = self.wall_clock() if now_wall is None else now_wall
        ahead = sampled_at - now_wall
        sequenced = (doc.get('run_id') is not None
                     and doc.get('sequence') is not None)
        if ahead > self.max_clock_skew and not sequenced:
            self._drop(FUTURE, message,
                       'stamped %.0f s ahead of this balancer\'s clock '
                       '([drs_listener] max_clock_skew is %g s) without '
                       'sequence numbers to order it by: the host\'s clock '
                       'is wrong, or the message forged'
                       % (ahead, self.max_clock_skew))
            return None
        return Report(host=host, event_type=event_type, payload=doc,
                      publisher_id=publisher_id, sampled_at=sampled_at,
                      received_at=received_at,
                      message_id=(message.get('metadata') or {}).get(
                          'message_id'),
                      run_id=doc.get('run_id'), sequence=doc.get('sequence'))

    def _verify(self, event_type, publisher_id, host, doc, message):
        """Check the signature (when a secret is configured).

        :returns: True when the payload was serialised (hence checked
            finite), False when nothing was checked, None when the message
            was dropped.
        """
        if self.verifier is None:
            return False
        try:
            self.verifier.verify(event_type, publisher_id, host, doc)
        except signing.Unsigned as e:
            self._drop(UNSIGNED, message, e)
            return None
        except signing.SignatureError as e:
            self._drop(BAD_SIGNATURE, message, e)
            return None
        except ValueError as e:
            # a NaN or an infinity: no JSON
            raise payload_schema.PayloadError('payload: %s' % e) from None
        return True

    def _handle(self, messages):
        received_at = self.clock()
        with self._lock:
            self.batches += 1
            self.last_batch_at = received_at
        by_type = {payload_schema.METRICS_EVENT: [],
                   payload_schema.HOTSPOT_EVENT: []}
        now_wall = self.wall_clock()
        for message in messages:
            report = self.check(message, received_at, now_wall)
            if report is not None:
                by_type[report.event_type].append(report)
        for event_type, deliver in (
                (payload_schema.METRICS_EVENT, self.handler.on_metrics),
                (payload_schema.HOTSPOT_EVENT, self.handler.on_hotspots)):
            reports = by_type[event_type]
            if not reports:
                continue
            try:
                deliver(reports)
            except Exception:
                self._count(HANDLER_ERROR, len(reports))
                LOG.exception('The host view failed on %d %s '
                              'notifications; they are lost', len(reports),
                              event_type)
            else:
                with self._lock:
                    self.accepted[event_type] += len(reports)

    @property
    def signatures(self):
        """``host keys``, ``shared or host keys`` or ``off``."""
        if self.verifier is None:
            return 'off'
        if self.verifier.require_host_keys:
            return 'host keys'
        return 'shared or host keys'

    def stats(self):
        """Counters: accepted per event type, dropped per reason, batches."""
        with self._lock:
            return {'accepted': dict(self.accepted),
                    'dropped': {r: self.dropped.get(r, 0)
                                for r in DROP_REASONS},
                    'batches': self.batches,
                    'last_batch_at': self.last_batch_at,
                    'signatures': self.signatures}


def stop_servers(servers):
    """Stop oslo.messaging servers, then wait for them.

    All are told to stop before any is waited for: each wait lets the
    batches in hand finish, and they finish side by side.
    """
    for server in servers:
        server.stop()
    for server in servers:
        server.wait()


class _DrainEndpoint:
    """Acknowledges and discards what reaches the default queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    def sample(self, messages):
        with self._lock:
            self.count += len(messages)
        return oslo_messaging.NotificationResult.HANDLED


class MetricsListener:
    """Reads the agents' notifications and feeds a :class:`MetricsHandler`.

    :param conf: configuration (``[drs_listener]``, oslo.messaging's
        transport options).
    :param handler: where checked notifications go.
    :param transport: a notification transport; by default one is made
        from the configuration at :meth:`start` and cleaned up at
        :meth:`stop`.
    :param replica_id: this replica's stable id, when the balancer runs as
        one of several replicas (see :func:`pool_name`).
    :param clock: monotonic clock stamped on each batch.

    oslo.messaging reconnects by itself after a broker restart or a lost
    connection, with the back-off of ``[oslo_messaging_rabbit]
    rabbit_retry_interval``, ``rabbit_retry_backoff`` and
    ``rabbit_interval_max``; messages sent meanwhile wait in the queue.
    :meth:`start` itself returns only once the broker was reached.
    """

    def __init__(self, conf, handler, transport=None, replica_id=None,
                 clock=time.monotonic):
        self.conf = conf
        opts = conf.drs_listener
        self.topic = opts.topic
        self.pool = pool_name(conf, replica_id)
        self.endpoint = MetricsEndpoint(
            handler, opts.drop_log_interval, clock,
            verifier=signing.Verifier.from_conf(conf),
            max_clock_skew=opts.max_clock_skew)
        self._drain_endpoint = _DrainEndpoint()
        self._transport = transport
        self._own_transport = transport is None
        self._servers = []

    @property
    def queue(self):
        """The name of the RabbitMQ queue read."""
        return self.pool or '%s.sample' % self.topic

    def _server(self, endpoint, pool):
        opts = self.conf.drs_listener
        return oslo_messaging.get_batch_notification_listener(
            self._transport, [oslo_messaging.Target(topic=self.topic)],
            [endpoint], executor='threading', allow_requeue=False,
            pool=pool, batch_size=opts.batch_size,
            batch_timeout=opts.batch_timeout)

    def start(self):
        if self._servers:
            return
        if self._transport is None:
            self._transport = oslo_messaging.get_notification_transport(
                self.conf)
        servers = [self._server(self.endpoint, self.pool)]
        if self.pool and self.conf.drs_listener.drain_default_queue:
            servers.append(self._server(self._drain_endpoint, None))
        if self.endpoint.verifier is None:
            LOG.warning('[drs_signing] secret is not set: metrics '
                        'notifications are accepted unsigned, and anyone '
                        'who can publish on the message broker can make '
                        'this balancer believe any host is loaded '
                        '(doc/source/security.rst)')
        else:
            LOG.info('Metrics notifications must be signed (%s)',
                     self.endpoint.signatures)
        for server in servers:
            server.start()
            self._servers.append(server)
        LOG.info('Reading agent metrics from queue %(queue)s (topic '
                 '%(topic)s)%(drain)s', {
                     'queue': self.queue, 'topic': self.topic,
                     'drain': ', discarding the default queue'
                     if len(servers) > 1 else ''})

    def stop(self):
        """Stop reading; batches in hand are finished first."""
        servers, self._servers = self._servers, []
        stop_servers(servers)
        if self._own_transport and self._transport is not None:
            self._transport.cleanup()
            self._transport = None

    def stats(self):
        """The endpoint's counters, plus messages discarded by the drain."""
        stats = self.endpoint.stats()
        with self._drain_endpoint._lock:
            stats['drained'] = self._drain_endpoint.count
        stats['queue'] = self.queue
        return stats
