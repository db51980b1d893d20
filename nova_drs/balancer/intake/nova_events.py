# SPDX-License-Identifier: Apache-2.0
"""The balancer's Nova intake: Nova's versioned notifications.

The balancer reads Nova's inventory (compute services, servers, server
groups, aggregates...) with :func:`nova_drs.balancer.view.nova_view.collect`
periodically. Between two reads that inventory goes out of date: a server
is booted or deleted, someone else live-migrates or resizes one, an
operator disables a compute service. Nova announces each of these with a
versioned notification; :class:`NovaEventListener` reads them and hands a
:class:`NovaEventHandler` one :class:`NovaEvent` per notification, so that
the balancer refreshes its inventory at once (and stops sending anything
to a host disabled a second ago) instead of at the next periodic refresh.

Only the event types of :data:`EVENT_TYPES` are read: an oslo.messaging
``NotificationFilter`` keeps the rest (``instance.exists``, volume and
interface attachments, ...) from even being dispatched. Each has a
*kind*: ``migration`` for every phase of a live migration (started,
ended, rolled back, aborted, forced to complete), ``inventory`` for the
others, which are read at their ``end`` or ``error`` phase (or have no
phase), when the change they announce is done.

A notification is dropped, counted and logged (rate-limited, as the
metrics listener does) when its payload is not a Nova versioned payload
(``nova_object.data``), an instance notification has no instance uuid, a
service notification has no host, or its timestamp is not one. A
``service.*`` notification about another service than ``nova-compute``
is not dropped but *ignored* (counted): only computes are balanced.
What the handler raises is logged with its traceback and counted; it
never stops the listener. Every message is acknowledged after its batch
was handled.

Queue. The listener reads its own pool, ``drs-balancer-nova-<replica id>``
for a replica (every replica keeps its own view, so every replica must see
every notification) and ``drs-balancer-nova`` for a single balancer, never
Nova's default queue ``versioned_notifications.info``: other services may
consume that queue and a listener there would take messages from them.
See :func:`pool_name` and ``doc/source/nova-events.rst`` for the broker policy
operators should set.
"""

import abc
import collections
import dataclasses
import datetime
import re
import time

from oslo_log import log as logging
import oslo_messaging

from nova_drs.balancer.intake import listener

LOG = logging.getLogger(__name__)

#: what a notification means for the balancer
KIND_INVENTORY = 'inventory'
KIND_MIGRATION = 'migration'

#: the pool of a replica is POOL_PREFIX-<replica id>; of a single balancer
#: POOL_PREFIX itself. Under the broker policy's ``^drs-balancer-``.
POOL_PREFIX = 'drs-balancer-nova'

#: why a notification was dropped: the keys of ``stats()['dropped']``
MALFORMED = listener.MALFORMED
UNKNOWN_EVENT = listener.UNKNOWN_EVENT
HANDLER_ERROR = listener.HANDLER_ERROR
DROP_REASONS = (MALFORMED, UNKNOWN_EVENT, HANDLER_ERROR)

#: the only service whose changes matter: the hosts balanced are computes
COMPUTE_BINARY = 'nova-compute'

# Instance actions after which the inventory differs: a server appeared,
# went, moved, changed size, or can or cannot be live-migrated any more
# (its status changed). Nova sends them with a start and an end phase (and
# an error phase for some); the change is done at the end, or failed.
_INSTANCE_ACTIONS = (
    'create', 'delete', 'soft_delete', 'restore',
    'resize', 'resize_finish', 'resize_confirm', 'resize_revert',
    'rebuild', 'shelve', 'shelve_offload', 'unshelve',
    'power_on', 'power_off', 'pause', 'unpause', 'suspend', 'resume',
    'rescue', 'unrescue')
# Instance notifications without a phase: any change of a server (status,
# task state, metadata such as the opt-out key; sent only when Nova's
# [notifications] notify_on_state_change is set), and the start of an
# evacuation (its end is a rebuild.end on the new host).
_INSTANCE_PHASELESS = ('update', 'evacuate')
# Every phase: the balancer wants to know that someone (itself or not)
# started a live migration, as well as when it ended.
_LIVE_MIGRATION_ACTIONS = (
    'live_migration_pre', 'live_migration_post', 'live_migration_post_dest',
    'live_migration_rollback', 'live_migration_rollback_dest',
    'live_migration_abort', 'live_migration_force_complete')
# A compute service created, disabled or enabled, forced down or up,
# deleted: a host to add, to stop using at once, or to use again.
_SERVICE_EVENTS = ('service.create', 'service.update', 'service.delete')
# Membership and metadata (availability zone) of host aggregates.
_AGGREGATE_ACTIONS = ('create', 'delete', 'add_host', 'remove_host',
                      'update_metadata', 'update_prop')
_SERVER_GROUP_EVENTS = ('server_group.create', 'server_group.delete',
                        'server_group.add_member')


def _event_types():
    types = {}
    for action in _INSTANCE_ACTIONS:
        for phase in ('end', 'error'):
            types['instance.%s.%s' % (action, phase)] = KIND_INVENTORY
    for action in _INSTANCE_PHASELESS:
        types['instance.%s' % action] = KIND_INVENTORY
    for action in _LIVE_MIGRATION_ACTIONS:
        for phase in ('start', 'end', 'error'):
            types['instance.%s.%s' % (action, phase)] = KIND_MIGRATION
    for action in _AGGREGATE_ACTIONS:
        for phase in ('end', 'error'):
            types['aggregate.%s.%s' % (action, phase)] = KIND_INVENTORY
    for event_type in _SERVICE_EVENTS + _SERVER_GROUP_EVENTS:
        types[event_type] = KIND_INVENTORY
    return types


#: event type -> kind, for every notification the listener reads
EVENT_TYPES = _event_types()
#: the NotificationFilter's pattern: exactly the event types above
EVENT_TYPE_FILTER = '^(%s)$' % '|'.join(
    re.escape(t) for t in sorted(EVENT_TYPES))

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}'
                      r'[0-9a-fA-F]{12}$')


def pool_name(conf, replica_id=None):
    """The listener pool (queue) of Nova's notifications; never None.

    ``[drs_listener] nova_pool`` when set, else ``drs-balancer-nova-<replica
    id>`` for a replica and ``drs-balancer-nova`` for a single balancer.
    Unlike the metrics listener, a single balancer also reads a pool of its
    own: Nova's default queue may have other consumers.
    """
    if conf.drs_listener.nova_pool:
        return conf.drs_listener.nova_pool
    if replica_id is not None and str(replica_id):
        return '%s-%s' % (POOL_PREFIX, replica_id)
    return POOL_PREFIX


def parse_timestamp(text):
    """oslo.messaging's notification timestamp as seconds since the epoch.

    Nova's notifier writes ``str(utcnow())``, e.g. ``2026-11-27
    10:00:00.123456``: naive, in UTC. ISO 8601 with ``T`` and an offset is
    read too.

    :raises ValueError: not such a timestamp.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError('not a timestamp: %r' % (text,))
    stamp = datetime.datetime.fromisoformat(
        text.strip().replace('Z', '+00:00'))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def _optional_text(value):
    if value is None or isinstance(value, str):
        return value
    raise ValueError(value)


def server_facts(data):
    """:class:`ServerFacts` from an InstancePayload's data, or None.

    None when a field the view needs is missing or of the wrong type (an
    older or newer payload version, or a forged one): the balancer then
    reads Nova instead of trusting the payload. Never raises.
    """
    flavor = data.get('flavor')
    flavor = flavor.get('nova_object.data') if isinstance(
        flavor, dict) else None
    metadata = data.get('metadata')
    if not isinstance(flavor, dict) or not isinstance(metadata, dict):
        return None
    vcpus, ram = flavor.get('vcpus'), flavor.get('memory_mb')
    state = data.get('state')
    try:
        if not all(isinstance(v, int) and not isinstance(v, bool)
                   and v > 0 for v in (vcpus, ram)):
            raise ValueError('flavor sizes')
        if not isinstance(state, str) or not state:
            raise ValueError('state')
        pairs = tuple(sorted((str(k), _optional_text(v))
                             for k, v in metadata.items()))
        return ServerFacts(
            host=_optional_text(data.get('host')) or None,
            vm_state=state,
            task_state=_optional_text(data.get('task_state')) or None,
            vcpus=vcpus, ram_mb=ram,
            flavor_name=_optional_text(flavor.get('name')),
            metadata=pairs,
            name=_optional_text(data.get('display_name')),
            project_id=_optional_text(data.get('tenant_id')))
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class NovaEvent:
    """One Nova notification, as the balancer needs it."""

    #: e.g. ``instance.live_migration_post.end``
    event_type: str
    #: server uuid; None for service, aggregate and server group events
    instance: str
    #: the compute service host of the payload (for an instance, the host
    #: it is on at that moment: a live migration's source until
    #: ``live_migration_post_dest``), or None
    host: str
    #: the notification's timestamp, seconds since the epoch
    timestamp: float
    #: KIND_INVENTORY (refresh the inventory) or KIND_MIGRATION (a live
    #: migration started, ended, or was rolled back, aborted, forced)
    kind: str
    #: for an instance notification, what its payload says of the server
    #: (:class:`ServerFacts`), or None when the payload lacks part of it
    server: object = None


@dataclasses.dataclass(frozen=True)
class ServerFacts:
    """A server as an instance notification's payload describes it.

    Enough to add, move or update the server in the balancer's view of
    Nova without reading Nova (:mod:`nova_drs.balancer.view.nova_view`); which
    notifications are trusted for it is the view's business (see
    :data:`nova_drs.balancer.view.nova_view.DELTA_EVENTS`).
    """

    #: the compute service host (None: not scheduled yet, or offloaded)
    host: str
    #: Nova's vm_state (``active``, ``paused``, ``stopped``...)
    vm_state: str
    task_state: str
    vcpus: int
    ram_mb: int
    flavor_name: str
    #: server metadata (str -> str), as a tuple of pairs (hashable)
    metadata: tuple
    name: str
    project_id: str


class NovaEventHandler(metaclass=abc.ABCMeta):
    """What :class:`NovaEventListener` delivers events to.

    Called from the listener's worker threads, possibly several at once,
    so an implementation must be thread-safe, and should return quickly
    (e.g. set an event that wakes the refresh): the batch's messages are
    acknowledged after the call. An exception is logged with its traceback
    and counted as ``handler_error``; the batch's events are lost, the
    listener carries on.
    """

    @abc.abstractmethod
    def on_nova_events(self, events):
        """Take one batch of events, in the order received.

        :param events: non-empty list of :class:`NovaEvent`.
        """


_short = listener._short


class _Ignored(Exception):
    """A well-formed notification the balancer has no use for."""


class NovaEventEndpoint(listener.BatchEndpoint):
    """Batch endpoint for priorities info and error: check, count, deliver.

    :param handler: a :class:`NovaEventHandler`.
    :param log_interval: seconds between two warnings of the same kind.
    :param clock: monotonic clock stamped on each batch.
    """

    what = 'Nova notification'
    filter_rule = oslo_messaging.NotificationFilter(
        event_type=EVENT_TYPE_FILTER)

    def __init__(self, handler, log_interval=60.0, clock=time.monotonic):
        super().__init__(handler, log_interval, clock, logger=LOG)
        #: kind -> events delivered to the handler
        self.accepted = collections.Counter()
        #: event type -> events delivered to the handler
        self.event_types = collections.Counter()
        #: well-formed notifications of no use (other services than
        #: nova-compute)
        self.ignored = 0

    # oslo.messaging calls the method named after the priority; Nova sends
    # .error phases with priority error, everything else with info.
    def info(self, messages):
        return self._take(messages)

    def error(self, messages):
        return self._take(messages)

    def check(self, message):
        """A :class:`NovaEvent` for a good message; None (counted) if not.

        :param message: oslo.messaging's dict with ``publisher_id``,
            ``event_type``, ``payload`` and ``metadata``.
        """
        event_type = message.get('event_type')
        kind = EVENT_TYPES.get(event_type) if isinstance(
            event_type, str) else None
        if kind is None:
            # the filter passes only known types: a caller bypassed it
            self._drop(UNKNOWN_EVENT, message, 'not an event type this '
                       'balancer reads')
            return None
        try:
            return self._event(event_type, kind, message)
        except _Ignored:
            with self._lock:
                self.ignored += 1
            return None
        except ValueError as e:
            self._drop(MALFORMED, message, e)
            return None

    @staticmethod
    def _event(event_type, kind, message):
        payload = message.get('payload')
        data = (payload.get('nova_object.data')
                if isinstance(payload, dict) else None)
        if not isinstance(data, dict):
            raise ValueError('the payload is not a Nova versioned '
                             'notification payload (no nova_object.data)')
        host = data.get('host')
        if host is not None and (not isinstance(host, str) or not host):
            raise ValueError('host is not a name: %s' % _short(host))
        instance = None
        subject = event_type.split('.', 1)[0]
        if subject == 'instance':
            instance = data.get('uuid')
            if not isinstance(instance, str) or not _UUID_RE.match(instance):
                raise ValueError('the instance uuid is missing or invalid: '
                                 '%s' % _short(instance))
        elif subject == 'service':
            if host is None:
                raise ValueError('the service has no host')
            if data.get('binary') != COMPUTE_BINARY:
                raise _Ignored()
        else:
            # aggregates and server groups concern several hosts: the
            # refresh reads them all
            host = None
        try:
            stamp = parse_timestamp(
                (message.get('metadata') or {}).get('timestamp'))
        except ValueError as e:
            raise ValueError('bad timestamp: %s' % e)
        server = server_facts(data) if instance is not None else None
        return NovaEvent(event_type=event_type, instance=instance, host=host,
                         timestamp=stamp, kind=kind, server=server)

    def _handle(self, messages):
        received_at = self.clock()
        with self._lock:
            self.batches += 1
            self.last_batch_at = received_at
        events = [e for e in map(self.check, messages) if e is not None]
        if not events:
            return
        try:
            self.handler.on_nova_events(events)
        except Exception:
            self._count(HANDLER_ERROR, len(events))
            LOG.exception('The handler failed on %d Nova notifications; '
                          'they are lost', len(events))
            return
        with self._lock:
            for event in events:
                self.accepted[event.kind] += 1
                self.event_types[event.event_type] += 1

    def stats(self):
        """Counters: accepted per kind and event type, dropped, ignored."""
        with self._lock:
            return {'accepted': {k: self.accepted.get(k, 0)
                                 for k in (KIND_INVENTORY, KIND_MIGRATION)},
                    'event_types': dict(self.event_types),
                    'dropped': {r: self.dropped.get(r, 0)
                                for r in DROP_REASONS},
                    'ignored': self.ignored,
                    'batches': self.batches,
                    'last_batch_at': self.last_batch_at}


class NovaEventListener:
    """Reads Nova's versioned notifications and feeds a handler.

    :param conf: configuration (``[drs_listener]``, oslo.messaging's
        transport options).
    :param handler: a :class:`NovaEventHandler`.
    :param transport: a notification transport to Nova's broker; by
        default one is made at :meth:`start` from ``[drs_listener]
        nova_transport_url`` (or the notification transport of the
        configuration) and cleaned up at :meth:`stop`.
    :param replica_id: this replica's stable id, when the balancer runs as
        one of several replicas (see :func:`pool_name`).
    :param clock: monotonic clock stamped on each batch.

    With ``[drs_listener] nova_notifications = False`` :meth:`start` does
    nothing (the inventory is then only refreshed periodically).
    oslo.messaging reconnects by itself after a broker restart, as for the
    metrics listener; :meth:`start` returns once the broker was reached.
    """

    def __init__(self, conf, handler, transport=None, replica_id=None,
                 clock=time.monotonic):
        self.conf = conf
        opts = conf.drs_listener
        self.enabled = opts.nova_notifications
        self.topic = opts.nova_topic
        self.exchange = opts.nova_exchange
        self.pool = pool_name(conf, replica_id)
        self.endpoint = NovaEventEndpoint(handler, opts.drop_log_interval,
                                          clock)
        self._transport = transport
        self._own_transport = transport is None
        self._server = None

    @property
    def queue(self):
        """The name of the RabbitMQ queue read."""
        return self.pool

    def start(self):
        if self._server is not None:
            return
        if not self.enabled:
            LOG.info('Not reading Nova\'s notifications ([drs_listener] '
                     'nova_notifications is off): the inventory of Nova is '
                     'only refreshed periodically')
            return
        opts = self.conf.drs_listener
        if self._transport is None:
            self._transport = oslo_messaging.get_notification_transport(
                self.conf, url=opts.nova_transport_url or None)
        server = oslo_messaging.get_batch_notification_listener(
            self._transport,
            [oslo_messaging.Target(topic=self.topic, exchange=self.exchange)],
            [self.endpoint], executor='threading', allow_requeue=False,
            pool=self.pool, batch_size=opts.batch_size,
            batch_timeout=opts.batch_timeout)
        server.start()
        self._server = server
        LOG.info('Reading Nova\'s notifications from queue %(queue)s '
                 '(exchange %(exchange)s, topic %(topic)s)',
                 {'queue': self.queue, 'exchange': self.exchange,
                  'topic': self.topic})

    def stop(self):
        """Stop reading; batches in hand are finished first."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            server.wait()
        if self._own_transport and self._transport is not None:
            self._transport.cleanup()
            self._transport = None

    def stats(self):
        """The endpoint's counters, plus ``enabled`` and ``queue``."""
        stats = self.endpoint.stats()
        stats['enabled'] = self.enabled
        stats['queue'] = self.queue
        return stats
