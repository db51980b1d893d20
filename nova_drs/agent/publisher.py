# SPDX-License-Identifier: Apache-2.0
"""Publishing: oslo.messaging notifications behind a bounded buffer.

Every payload gets the agent's run id (a random UUID drawn at start) and
the next sequence number of the run, is signed (HMAC-SHA256, see
:mod:`nova_drs.notifications.signing`) with the host key of ``[drs_agent]
signing_key_file`` or the shared ``[drs_signing] secret`` when one is
configured, and is put in a buffer of ``[drs_agent] buffer_size``
notifications; a sender thread empties it through an oslo.messaging
``Notifier`` (priority ``sample``, publisher id ``nova-drs-agent:<host>``,
topic ``[drs_agent] topic``, or with ``[drs_agent] partitions`` the topic
of the host's intake partition, :mod:`nova_drs.notifications.partition`).
The payloads are not validated here: the agent builds them within the
schema's limits, which its unit tests check, and the balancer validates
what it receives.

While the broker is down the sender blocks inside oslo.messaging, which
reconnects with its own back-off, and the cycle goes on: the buffer
fills, then the oldest notification waiting is dropped for each new one
and counted. Memory use stays bounded whatever the outage lasts.
"""

import collections
import threading
import uuid

from oslo_log import log as logging
import oslo_messaging

from nova_drs.notifications import partition
from nova_drs.notifications import signing

LOG = logging.getLogger(__name__)

BINARY = 'nova-drs-agent'


class Publisher:
    """Send notifications from a thread, buffering while the broker is down.

    :param conf: configuration (``[drs_agent]``, oslo.messaging options).
    :param notifier: an object with oslo.messaging's
        ``Notifier.sample(ctxt, event_type, payload)``; by default one is
        built from the configuration when the publisher starts.
    :param signer: a :class:`nova_drs.notifications.signing.Signer`, or
        None to send unsigned payloads; by default the configuration's.
    :param host: the compute host (default ``[drs_agent] host``).
    :raises nova_drs.notifications.signing.KeyFileError: the configured
        key file holds no key.
    """

    _FROM_CONF = object()

    def __init__(self, conf, notifier=None, signer=_FROM_CONF, host=None):
        self.conf = conf
        #: the compute host it publishes for: ``[drs_agent] host`` unless
        #: given (the load test's simulated agents share a configuration)
        self.host = host or conf.drs_agent.host
        self.publisher_id = '%s:%s' % (BINARY, self.host)
        if signer is self._FROM_CONF:
            signer = signing.Signer.from_conf(conf, self.publisher_id)
        self.signer = signer
        #: this run of the agent; with the sequence numbers it lets the
        #: balancer order the samples whatever the host's clock says
        self.run_id = str(uuid.uuid4())
        self.sequence = 0
        self.size = conf.drs_agent.buffer_size
        #: the topic of this host's intake partition, or ``[drs_agent]
        #: topic`` without partitions (nova_drs.notifications.partition)
        self.topic = partition.topic_for(conf.drs_agent.topic, self.host,
                                         conf.drs_agent.partitions)
        self._notifier = notifier
        self._transport = None
        self._buffer = collections.deque()
        self._in_flight = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None
        #: notifications sent, dropped (buffer full), refused (not JSON
        #: data: a NaN, which only a bug could make)
        self.sent = 0
        self.dropped = 0
        self.invalid = 0
        self._dropping = False

    @property
    def pending(self):
        with self._cond:
            return len(self._buffer)

    def start(self):
        if self._notifier is None:
            self._transport = oslo_messaging.get_notification_transport(
                self.conf)
            # NOTE: retry=None: a send blocks in the sender thread until
            # oslo.messaging has reconnected; with a finite retry the driver
            # logs the whole payload and drops it without telling us.
            self._notifier = oslo_messaging.Notifier(
                self._transport, publisher_id=self.publisher_id,
                driver=self.conf.drs_agent.notification_driver,
                topics=[self.topic])
        if self.signer is None:
            LOG.warning('Metrics notifications are NOT signed: set '
                        '[drs_agent] signing_key_file (or [drs_signing] '
                        'secret) so that the balancer can tell them from '
                        'forgeries (doc/source/security.rst)')
        else:
            LOG.info('Signing metrics notifications with the %s key',
                     self.signer.kind)
        self._thread = threading.Thread(target=self._run,
                                        name='drs-publisher', daemon=True)
        self._thread.start()

    def publish(self, event_type, payload):
        """Number, sign and queue ``payload`` (changed in place).

        :returns: True when it is queued (the oldest waiting notification
            may have been dropped to make room), False when it could not be
            signed (it holds a NaN or something that is not JSON data).
        """
        with self._cond:
            self.sequence += 1
            payload['run_id'] = self.run_id
            payload['sequence'] = self.sequence
        if self.signer is not None:
            try:
                self.signer.sign(event_type, payload)
            except ValueError as e:
                self.invalid += 1
                LOG.error('Not publishing a %(event)s payload that %(why)s',
                          {'event': event_type, 'why': e})
                return False
        with self._cond:
            if len(self._buffer) >= self.size:
                # drop the oldest that is not being sent right now
                drop = 1 if self._buffer[0] is self._in_flight else 0
                if drop < len(self._buffer):
                    del self._buffer[drop]
                else:
                    self._buffer.popleft()
                self.dropped += 1
                if not self._dropping:
                    self._dropping = True
                    LOG.warning('Notification buffer full (%d): the '
                                'message broker is unreachable, dropping '
                                'the oldest metrics', self.size)
            self._buffer.append((event_type, payload))
            self._cond.notify()
        return True

    def _run(self):
        while True:
            with self._cond:
                while not self._buffer and not self._stopping:
                    self._cond.wait()
                if not self._buffer:
                    return
                item = self._in_flight = self._buffer[0]
            try:
                self._notifier.sample({}, item[0], item[1])
            except Exception:
                # a driver that raises instead of retrying: wait a little.
                # NOTE: hand-written: the wait is on the buffer (new
                # metrics, stop) and the next send takes its head again
                LOG.exception('Cannot send %s', item[0])
                with self._cond:
                    self._in_flight = None
                    if self._stopping:
                        return
                    self._cond.wait(1.0)
                continue
            with self._cond:
                self._in_flight = None
                if self._buffer and self._buffer[0] is item:
                    self._buffer.popleft()
                self.sent += 1
                if self._dropping and not self._buffer:
                    self._dropping = False
                    LOG.info('Notification buffer drained; %d dropped '
                             'so far', self.dropped)

    def flush(self):
        """Send what is buffered now, in the caller's thread.

        For a caller that drives many publishers without starting their
        sender threads (the load test simulates thousands of agents in a
        process); an error of the notifier is raised and the notification
        stays buffered.
        """
        while True:
            with self._cond:
                if not self._buffer:
                    return
                item = self._buffer[0]
            self._notifier.sample({}, item[0], item[1])
            with self._cond:
                if self._buffer and self._buffer[0] is item:
                    self._buffer.popleft()
                self.sent += 1

    def stop(self, timeout=5.0):
        """Send what is buffered (for up to ``timeout`` s), then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning('Stopping with %d notifications not sent '
                            '(broker unreachable)', self.pending)
            self._thread = None
        if self._transport is not None:
            self._transport.cleanup()
            self._transport = None
