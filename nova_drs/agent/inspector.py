# SPDX-License-Identifier: Apache-2.0
"""The libvirt inspector: the only module of nova-drs that imports libvirt.

It samples through a **read-only** connection to ``[libvirt]
connection_uri`` (``virConnectOpenReadOnly``): every guest's statistics
with a single ``getAllDomainStats`` call per cycle, turned into plain
:class:`GuestSample` objects so that nothing else depends on libvirt, the
domain XML, job information and the events. Only the balloon actuator's
``virDomainSetMemoryFlags`` goes through a second, read-write connection,
opened when the first balloon is resized (never in dry-run mode), so a
fault in the sampling code cannot change a guest.

Lifecycle and migration events arrive on the read-only
connection through libvirt's default event loop, run by a daemon thread.
A lost connection (libvirtd restarted) is noticed by the keepalive or the
next call, and each connection is reopened on its next use with a doubling
back-off. A guest that disappears while it is being sampled is left out of
that sample.

The guest configuration the agent needs (balloon device, ``autodeflate``,
``freePageReporting``, statistics period, and the per-guest balloon floor)
comes from the domain XML, read once per guest and again after a lifecycle
event. The floor is the ``floor_mb`` attribute of a libvirt metadata
element::

    <metadata>
      <drs:balloon xmlns:drs="https://opendev.org/openstack/nova-drs"
                   floor_mb="1024"/>
    </metadata>

(set with ``virsh metadata DOMAIN https://opendev.org/openstack/nova-drs
--key drs --set '<balloon floor_mb="1024"/>' --live --config``). The same
element carries the guest's demand estimate from host to host
(:mod:`.demand_element`): read with the rest of the XML, written, live
only, through the read-write connection. Nova
does not put server metadata into the domain XML: the
``drs:balloon_floor_mb`` server metadata key is read from Nova's API by
:mod:`.nova_metadata` when ``[drs_agent] nova_metadata`` is on.
"""

import dataclasses
import threading
import time
# NOTE: the XML parsed is the domain definition of the local libvirtd
# (root's), never a guest's data; Python's expat refuses entity
# expansion attacks and ElementTree resolves no external entities.
from xml.etree import ElementTree  # nosec B405

from oslo_log import log as logging
import tenacity

from nova_drs import retry_policy

from nova_drs.agent import demand_element

try:
    import libvirt
except ImportError:
    libvirt = None

LOG = logging.getLogger(__name__)

DRS_NAMESPACE = 'https://opendev.org/openstack/nova-drs'
DEFAULT_URI = 'qemu:///system'

# virDomainState values; the names are those of the payload
STATES = ('nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff',
          'crashed', 'pmsuspended')
# virDomainPausedReason VIR_DOMAIN_PAUSED_MIGRATION
PAUSED_MIGRATION = 2
#: seconds before the event loop runs again after a failure, doubling
#: from the first to the second while it keeps failing
EVENT_LOOP_RETRY_MIN = 1.0
EVENT_LOOP_RETRY_MAX = 30.0


class InspectorError(Exception):
    """libvirt failed in a way that is not a lost connection."""


class Unavailable(InspectorError):
    """No connection to libvirtd right now; the next cycle retries."""


class GuestGone(InspectorError):
    """The guest no longer exists (or no longer runs)."""


@dataclasses.dataclass
class GuestConfig:
    """What the agent needs from a guest's domain XML."""

    has_balloon: bool = False
    autodeflate: bool = False
    free_page_reporting: bool = False
    #: balloon statistics period in seconds, 0 when not enabled
    stats_period: int = 0
    #: per-guest balloon floor in MiB, None for the configured share
    floor_mb: float = None
    #: the demand estimate the metadata carries
    #: (:class:`.demand_element.CarriedDemand`), None when there is none
    demand: object = None


# NOTE: slots: one per guest per cycle, made faster and smaller
@dataclasses.dataclass(slots=True)
class GuestSample:
    """One guest's counters from one ``getAllDomainStats`` call.

    Memory values are KiB, times nanoseconds, as libvirt reports them.
    """

    uuid: str
    name: str
    state: str
    #: monotonic time of the sample (the inspector's clock)
    monotonic: float
    cpu_time: int = None
    vcpus: int = 0
    #: cumulative time per vCPU, in vCPU order
    vcpu_times: list = dataclasses.field(default_factory=list)
    #: cumulative time per vCPU spent runnable but waiting for a host CPU
    #: (libvirt's ``vcpu.<n>.delay``, the host scheduler's run-queue
    #: delay: "CPU ready"); None when libvirt does not report it
    vcpu_delays: list = None
    #: balloon.* statistics without the prefix (current, maximum, usable...)
    balloon: dict = dataclasses.field(default_factory=dict)
    #: sums over all disks: rd.bytes, wr.bytes, rd.reqs, wr.reqs
    block: dict = dataclasses.field(default_factory=dict)
    #: sums over all interfaces: rx.bytes, tx.bytes
    net: dict = dataclasses.field(default_factory=dict)
    config: GuestConfig = dataclasses.field(default_factory=GuestConfig)
    migrating: bool = False


def parse_domain_xml(xml):
    """Return the :class:`GuestConfig` of a domain XML document."""
    # libvirtd's own XML (see the import)
    root = ElementTree.fromstring(xml)  # nosec B314
    config = GuestConfig()
    balloon = root.find('./devices/memballoon')
    if balloon is not None and balloon.get('model', 'none') != 'none':
        config.has_balloon = True
        config.autodeflate = balloon.get('autodeflate') == 'on'
        config.free_page_reporting = \
            balloon.get('freePageReporting') == 'on'
        stats = balloon.find('stats')
        if stats is not None:
            try:
                config.stats_period = int(stats.get('period', 0))
            except ValueError:
                pass
    element = root.find('./metadata/{%s}balloon' % DRS_NAMESPACE)
    if element is not None and element.get('floor_mb') is not None:
        try:
            config.floor_mb = float(element.get('floor_mb'))
            if config.floor_mb < 0:
                raise ValueError(config.floor_mb)
        except ValueError:
            LOG.warning('Ignoring invalid balloon floor %r of domain %s',
                        element.get('floor_mb'), root.findtext('name'))
            config.floor_mb = None
    try:
        config.demand = demand_element.parse(element)
    except ValueError as e:
        LOG.warning('Ignoring the invalid demand estimate of domain %s: '
                    '%s', root.findtext('name'), e)
    return config


_BALLOON_KEYS = tuple(('balloon.' + k, k) for k in (
    'current', 'maximum', 'usable', 'available', 'unused', 'rss',
    'major_fault', 'swap_in', 'swap_out', 'last-update', 'disk_caches'))
_BLOCK_KEYS = ('rd.bytes', 'wr.bytes', 'rd.reqs', 'wr.reqs')
_NET_KEYS = ('rx.bytes', 'tx.bytes')


def _names(prefix, keys, count):
    return [[('%s.%d.%s' % (prefix, i, k), k) for k in keys]
            for i in range(count)]


# the statistics names of the first devices, made once
_BLOCK_NAMES = _names('block', _BLOCK_KEYS, 8)
_NET_NAMES = _names('net', _NET_KEYS, 8)


#: the statistics' names for the first vCPUs (built once, not per guest)
_DELAY_KEYS = ['vcpu.%d.delay' % i for i in range(64)]
_TIME_KEYS = ['vcpu.%d.time' % i for i in range(64)]


def _vcpu_keys(cached, template, vcpus):
    """The statistics' names for ``vcpus`` vCPUs, from ``cached`` first."""
    if vcpus <= len(cached):
        return cached[:vcpus]
    return [template % i for i in range(vcpus)]


def _vcpu_delays(stats, vcpus):
    """Each vCPU's run-queue delay (ns), or None unless all are known.

    libvirt reads it from the vCPU threads' schedstat (libvirt 7.x and
    later, kernels with schedstats); older ones leave it out.
    """
    if not vcpus or 'vcpu.0.delay' not in stats:
        # the common case of a libvirt that reports none
        return None
    delays = [stats.get(key)
              for key in _vcpu_keys(_DELAY_KEYS, 'vcpu.%d.delay', vcpus)]
    if None in delays:
        return None
    return delays


def _sum(stats, prefix, keys, names):
    """Sum ``<prefix>.<i>.<key>`` over the ``<prefix>.count`` devices."""
    count = stats.get(prefix + '.count', 0)
    if count == 1:
        # the usual guest: one disk, one interface
        return {key: 0 + stats.get(name, 0) for name, key in names[0]}
    out = dict.fromkeys(keys, 0)
    if count > len(names):
        names = _names(prefix, keys, count)
    for device in names[:count]:
        for name, key in device:
            out[key] += stats.get(name, 0)
    return out


# one event loop per process (per libvirt module, for tests)
_event_loops = {}
_event_loops_lock = threading.Lock()


def event_loop_policy(sleep=time.sleep):
    """An iteration of libvirt's event loop that failed is run again.

    For ever, after waits of :data:`EVENT_LOOP_RETRY_MIN` seconds doubling
    up to :data:`EVENT_LOOP_RETRY_MAX` (jittered) while it keeps failing;
    each failure is logged with its traceback.
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Exception),
        stop=tenacity.stop_never,
        wait=retry_policy.backoff(EVENT_LOOP_RETRY_MIN,
                                  EVENT_LOOP_RETRY_MAX),
        sleep=sleep, before_sleep=_log_event_loop_failure)


def _log_event_loop_failure(retry_state):
    LOG.error('libvirt event loop failed (%d in a row); restarting it in '
              '%.1f s', retry_state.attempt_number,
              retry_policy.next_wait(retry_state),
              exc_info=retry_state.outcome.exception())


def _run_event_loop(module, sleep=time.sleep):
    run_once = event_loop_policy(sleep)
    while True:
        run_once(module.virEventRunDefaultImpl)


def _libvirt_error(ctxt, error):
    # NOTE: libvirt prints every error on stderr unless a handler is set;
    # the inspector reports the errors that matter itself.
    LOG.debug('libvirt: %s', error[2])


def start_event_loop():
    """Register libvirt's default event loop and run it in a thread.

    Must happen before the first connection is opened, once per process.
    """
    with _event_loops_lock:
        if _event_loops.get(id(libvirt)) is libvirt:
            return
        libvirt.registerErrorHandler(_libvirt_error, None)
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_event_loop, args=(libvirt,),
                                  name='libvirt-event-loop', daemon=True)
        thread.start()
        _event_loops[id(libvirt)] = libvirt


class _Link:
    """One libvirt connection, reopened on use with a doubling back-off.

    :param inspector: the owner (its clock and reconnect cap).
    :param kind: ``read-only`` or ``read-write``, for the logs.
    :param opener: ``libvirt.openReadOnly`` or ``libvirt.open``, looked up
        at each attempt (by name: tests swap the module).
    :param setup: ``setup(conn)`` after opening (events), may raise
        libvirtError; ``teardown(conn)`` before closing.
    """

    def __init__(self, inspector, kind, opener, setup=None, teardown=None):
        self.inspector = inspector
        self.kind = kind
        self.opener = opener
        self.setup = setup
        self.teardown = teardown
        self.conn = None
        self.backoff = 0.0
        self.next_attempt = 0.0
        #: successful (re)connections
        self.connections = 0

    def _open(self):
        uri = self.inspector.uri
        conn = getattr(libvirt, self.opener)(uri)
        try:
            try:
                conn.setKeepAlive(5, 3)
            except libvirt.libvirtError:
                # only remote connections (through libvirtd) have one
                LOG.debug('No keepalive on %s', uri)
            if self.setup is not None:
                self.setup(conn)
        except libvirt.libvirtError:
            conn.close()
            raise
        return conn

    # NOTE: hand-written, not a tenacity policy: nothing waits here, a
    # failed connection only sets when the agent's next cycle may try again
    def get(self):
        """The open connection; connect if due. Raises Unavailable."""
        uri = self.inspector.uri
        conn = self.conn
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            self.close('%s connection to %s lost' % (self.kind, uri))
        now = self.inspector._clock()
        if now < self.next_attempt:
            raise Unavailable('not connected to %s (next attempt in '
                              '%.0f s)' % (uri, self.next_attempt - now))
        try:
            self.conn = self._open()
        except libvirt.libvirtError as e:
            self.backoff = min(max(self.backoff * 2, 1.0),
                               self.inspector.reconnect_max_interval)
            self.next_attempt = now + self.backoff
            raise Unavailable('cannot connect to %s (%s): %s'
                              % (uri, self.kind, e.get_error_message()))
        self.backoff = 0.0
        self.connections += 1
        LOG.info('Connected to libvirt at %s (%s)', uri, self.kind)
        return self.conn

    def close(self, reason=None):
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if reason:
            LOG.warning('Disconnected from libvirt: %s', reason)
        if self.teardown is not None:
            self.teardown(conn)
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
        # first reconnection attempt at once, then back off
        self.next_attempt = 0.0


class LibvirtInspector:
    """Sample guests (read-only) and resize balloons (read-write).

    :param uri: libvirt URI; empty means ``qemu:///system``.
    :param reconnect_max_interval: cap in seconds of the reconnect
        back-off.
    :param clock: the monotonic clock, in seconds.
    """

    def __init__(self, uri=DEFAULT_URI, reconnect_max_interval=30.0,
                 clock=time.monotonic):
        self.uri = uri or DEFAULT_URI
        self._clock = clock
        self.reconnect_max_interval = reconnect_max_interval
        self._callbacks = []
        self._lock = threading.RLock()
        self._events_lock = threading.Lock()
        self._configs = {}
        #: uuid -> domain name, cached like the configurations (libvirt
        #: renames inactive domains only)
        self._names = {}
        self._migrating = set()
        self._reader = _Link(self, 'read-only', 'openReadOnly',
                             setup=self._register, teardown=self._deregister)
        self._writer = _Link(self, 'read-write', 'open')

    @property
    def connections(self):
        """Successful (re)connections of the read-only connection."""
        return self._reader.connections

    @property
    def write_connections(self):
        """Successful (re)connections of the read-write connection."""
        return self._writer.connections

    @classmethod
    def from_conf(cls, conf):
        return cls(conf.libvirt.connection_uri,
                   conf.drs_agent.libvirt_reconnect_max_interval)

    @staticmethod
    def check_available():
        """Raise InspectorError when libvirt-python is not installed."""
        if libvirt is None:
            raise InspectorError(
                'libvirt-python is not installed: install nova-drs with '
                'its "agent" extra (pip install nova-drs[agent]) or the '
                'distribution\'s python3-libvirt package')

    # -- connection ---------------------------------------------------------

    def start(self):
        """Start the event loop and try a first connection."""
        self.check_available()
        start_event_loop()
        try:
            self._connection()
        except Unavailable as e:
            LOG.warning('%s; retrying every cycle', e)

    @property
    def connected(self):
        """The read-only connection (sampling) is open."""
        return self._reader.conn is not None

    def close(self):
        with self._lock:
            self._reader.close()
            self._writer.close()

    def _register(self, conn):
        conn.registerCloseCallback(self._on_close, None)
        handlers = (
            (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle),
            (libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
             self._on_migration_iteration),
            (libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
             self._on_job_completed),
        )
        self._callbacks = [conn.domainEventRegisterAny(None, event, cb, None)
                           for event, cb in handlers]
        with self._events_lock:
            # the XML may have changed while we were away
            self._configs.clear()
            self._names.clear()
            self._migrating.clear()

    def _deregister(self, conn):
        for cid in self._callbacks:
            try:
                conn.domainEventDeregisterAny(cid)
            except libvirt.libvirtError:
                pass
        self._callbacks = []
        try:
            conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass

    def _connection(self):
        """The read-only connection; connect if due. Raises Unavailable."""
        with self._lock:
            return self._reader.get()

    def _write_connection(self):
        """The read-write connection; connect if due. Raises Unavailable."""
        with self._lock:
            return self._writer.get()

    def _disconnect(self, conn, reason):
        """Close whichever connection ``conn`` is (if still current)."""
        for link in (self._reader, self._writer):
            if link.conn is conn:
                link.close(reason)

    def _on_close(self, conn, reason, opaque):
        # runs in the event loop thread: only note it, the next call
        # notices isAlive() is false and reconnects
        LOG.warning('libvirt closed the connection to %s (reason %s)',
                    self.uri, reason)

    @staticmethod
    def _is_disconnection(error):
        return (error.get_error_code() in (libvirt.VIR_ERR_SYSTEM_ERROR,
                                           libvirt.VIR_ERR_INTERNAL_ERROR,
                                           libvirt.VIR_ERR_NO_CONNECT,
                                           libvirt.VIR_ERR_INVALID_CONN)
                and error.get_error_domain() in (libvirt.VIR_FROM_REMOTE,
                                                 libvirt.VIR_FROM_RPC))

    @staticmethod
    def _is_gone(error):
        return error.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN,
                                          libvirt.VIR_ERR_OPERATION_INVALID)

    def _failed(self, conn, error, what):
        """Turn a libvirtError into the inspector's exceptions."""
        alive = False
        try:
            alive = conn.isAlive()
        except libvirt.libvirtError:
            pass
        if self._is_disconnection(error) or not alive:
            with self._lock:
                self._disconnect(conn, '%s failed: %s' % (
                    what, error.get_error_message()))
            return Unavailable('%s: connection to %s lost' % (what, self.uri))
        if self._is_gone(error):
            return GuestGone('%s: %s' % (what, error.get_error_message()))
        return InspectorError('%s: %s' % (what, error.get_error_message()))

    # -- events (event loop thread) ----------------------------------------

    def _on_lifecycle(self, conn, dom, event, detail, opaque):
        uuid = dom.UUIDString()
        with self._events_lock:
            self._configs.pop(uuid, None)
            self._names.pop(uuid, None)
            if (event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED
                    and detail in (libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                                   libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY)
                    or event == libvirt.VIR_DOMAIN_EVENT_STARTED
                    and detail == libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED):
                self._migrating.add(uuid)
            elif event in (libvirt.VIR_DOMAIN_EVENT_RESUMED,
                           libvirt.VIR_DOMAIN_EVENT_STOPPED):
                self._migrating.discard(uuid)
        LOG.debug('Lifecycle event %s/%s of %s', event, detail, dom.name())

    def _on_migration_iteration(self, conn, dom, iteration, opaque):
        with self._events_lock:
            self._migrating.add(dom.UUIDString())

    def _on_job_completed(self, conn, dom, params, opaque):
        with self._events_lock:
            self._migrating.discard(dom.UUIDString())

    # -- sampling -----------------------------------------------------------

    def _config(self, dom, uuid):
        with self._events_lock:
            config = self._configs.get(uuid)
        if config is None:
            config = parse_domain_xml(dom.XMLDesc(0))
            with self._events_lock:
                self._configs[uuid] = config
        return config

    def sample(self):
        """Sample every active guest.

        :returns: list of :class:`GuestSample`; guests that vanish while
            being sampled are left out.
        :raises Unavailable: no connection to libvirtd.
        :raises InspectorError: libvirt refused the call.
        """
        conn = self._connection()
        flags = (libvirt.VIR_DOMAIN_STATS_STATE
                 | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
                 | libvirt.VIR_DOMAIN_STATS_VCPU
                 | libvirt.VIR_DOMAIN_STATS_BALLOON
                 | libvirt.VIR_DOMAIN_STATS_BLOCK
                 | libvirt.VIR_DOMAIN_STATS_INTERFACE)
        try:
            records = conn.getAllDomainStats(
                flags, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
        except libvirt.libvirtError as e:
            raise self._failed(conn, e, 'getAllDomainStats')
        now = self._clock()
        # NOTE: what the event callbacks keep, read once per cycle rather
        # than under the lock once per guest
        with self._events_lock:
            migrating = frozenset(self._migrating)
            configs = dict(self._configs)
            names = dict(self._names)
        samples = []
        for dom, stats in records:
            try:
                samples.append(self._guest_sample(dom, stats, now,
                                                  migrating, configs, names))
            except libvirt.libvirtError as e:
                error = self._failed(conn, e, 'reading guest')
                if isinstance(error, GuestGone):
                    LOG.debug('Guest vanished while sampled: %s', error)
                    continue
                if isinstance(error, Unavailable):
                    raise error
                LOG.warning('Skipping a guest: %s', error)
        with self._events_lock:
            seen = {s.uuid for s in samples}
            for uuid in list(self._configs):
                if uuid not in seen:
                    del self._configs[uuid]
            for uuid in list(self._names):
                if uuid not in seen:
                    del self._names[uuid]
        return samples

    def _guest_sample(self, dom, stats, now, migrating, configs, names):
        uuid = dom.UUIDString()
        get = stats.get
        state = get('state.state', 0)
        vcpus = get('vcpu.current', 0)
        config = configs.get(uuid)
        if config is None:
            config = self._config(dom, uuid)
        name = names.get(uuid)
        if name is None:
            name = dom.name()
            with self._events_lock:
                self._names[uuid] = name
        return GuestSample(
            uuid=uuid, name=name,
            state=STATES[state] if 0 <= state < len(STATES) else 'unknown',
            monotonic=now,
            cpu_time=get('cpu.time'),
            vcpus=vcpus,
            vcpu_times=[get(key, 0) for key in
                        _vcpu_keys(_TIME_KEYS, 'vcpu.%d.time', vcpus)],
            vcpu_delays=_vcpu_delays(stats, vcpus),
            balloon={key: stats[stat] for stat, key in _BALLOON_KEYS
                     if stat in stats},
            block=_sum(stats, 'block', _BLOCK_KEYS, _BLOCK_NAMES),
            net=_sum(stats, 'net', _NET_KEYS, _NET_NAMES),
            config=config,
            migrating=(uuid in migrating
                       or state == 3
                       and get('state.reason') == PAUSED_MIGRATION))

    # -- actions ------------------------------------------------------------

    def _domain(self, conn, uuid):
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as e:
            raise self._failed(conn, e, 'looking up guest %s' % uuid)

    def job_active(self, uuid):
        """Whether a job (a migration, typically) runs on the guest."""
        conn = self._connection()
        dom = self._domain(conn, uuid)
        try:
            return dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                return False
            raise self._failed(conn, e, 'job info of guest %s' % uuid)

    def set_memory(self, uuid, kib):
        """Set the guest's balloon to ``kib`` KiB (live only).

        The one call that changes a guest: it goes through the read-write
        connection.
        """
        conn = self._write_connection()
        dom = self._domain(conn, uuid)
        try:
            dom.setMemoryFlags(int(kib), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as e:
            raise self._failed(conn, e, 'setting the balloon of guest %s'
                               % uuid)

    def set_demand_metadata(self, uuid, peak_mb, history_s, at,
                            rise_mb_per_sqrt_s=None, rise_history_s=None):
        """Write a demand estimate into the guest's metadata (live only).

        With its rise estimate when ``rise_mb_per_sqrt_s`` is not None
        (:func:`.demand_element.merged`).

        The ``<drs:balloon>`` element is read first and written back
        whole with the new estimate: libvirt keeps one element per
        namespace and replaces it on each write, and it may hold the
        operator's floor. Through the read-write connection, as the
        balloon resizes.
        """
        conn = self._write_connection()
        dom = self._domain(conn, uuid)
        try:
            try:
                current = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                       DRS_NAMESPACE,
                                       libvirt.VIR_DOMAIN_AFFECT_LIVE)
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                    raise
                current = None
            try:
                xml = demand_element.merged(
                    current, peak_mb, history_s, at,
                    rise_mb_per_sqrt_s=rise_mb_per_sqrt_s,
                    rise_history_s=rise_history_s)
            except ValueError as e:
                raise InspectorError('guest %s: %s' % (uuid, e))
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, 'drs',
                            DRS_NAMESPACE, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as e:
            raise self._failed(conn, e, 'writing the demand estimate of '
                               'guest %s' % uuid)
