# SPDX-License-Identifier: Apache-2.0
"""A fake libvirt module for the inspector's unit tests.

Only what :mod:`nova_drs.agent.inspector` uses, with libvirt's constant
values. Set it with ``mock.patch.object(inspector, 'libvirt', fake)``.
"""

import copy
import threading
import types
from xml.etree import ElementTree  # nosec B405: the tests' own XML

from nova_drs.agent import hoststats
from nova_drs.agent import inspector

# constants, with libvirt's values
CONSTANTS = {
    'VIR_DOMAIN_STATS_STATE': 1, 'VIR_DOMAIN_STATS_CPU_TOTAL': 2,
    'VIR_DOMAIN_STATS_BALLOON': 4, 'VIR_DOMAIN_STATS_VCPU': 8,
    'VIR_DOMAIN_STATS_INTERFACE': 16, 'VIR_DOMAIN_STATS_BLOCK': 32,
    'VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE': 1,
    'VIR_DOMAIN_AFFECT_LIVE': 1,
    'VIR_DOMAIN_JOB_NONE': 0, 'VIR_DOMAIN_JOB_UNBOUNDED': 2,
    'VIR_DOMAIN_EVENT_ID_LIFECYCLE': 0,
    'VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION': 20,
    'VIR_DOMAIN_EVENT_ID_JOB_COMPLETED': 21,
    'VIR_DOMAIN_EVENT_DEFINED': 0, 'VIR_DOMAIN_EVENT_UNDEFINED': 1,
    'VIR_DOMAIN_EVENT_STARTED': 2, 'VIR_DOMAIN_EVENT_SUSPENDED': 3,
    'VIR_DOMAIN_EVENT_RESUMED': 4, 'VIR_DOMAIN_EVENT_STOPPED': 5,
    'VIR_DOMAIN_EVENT_STARTED_MIGRATED': 1,
    'VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED': 1,
    'VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY': 7,
    'VIR_ERR_INTERNAL_ERROR': 1, 'VIR_ERR_NO_SUPPORT': 3,
    'VIR_ERR_NO_CONNECT': 5, 'VIR_ERR_INVALID_CONN': 6,
    'VIR_ERR_SYSTEM_ERROR': 38, 'VIR_ERR_NO_DOMAIN': 42,
    'VIR_ERR_OPERATION_INVALID': 55, 'VIR_ERR_OPERATION_DENIED': 29,
    'VIR_FROM_QEMU': 10, 'VIR_FROM_DOMAIN': 20, 'VIR_FROM_REMOTE': 13,
    'VIR_FROM_RPC': 7,
    'VIR_DOMAIN_METADATA_ELEMENT': 2, 'VIR_ERR_NO_DOMAIN_METADATA': 80,
}

# the domain XML the fake writes names the namespace as libvirtd does
ElementTree.register_namespace('drs', inspector.DRS_NAMESPACE)


class libvirtError(Exception):
    def __init__(self, message, code=1, domain=10):
        super().__init__(message)
        self.code = code
        self.domain = domain

    def get_error_code(self):
        return self.code

    def get_error_domain(self):
        return self.domain

    def get_error_message(self):
        return str(self)


def no_domain():
    return libvirtError('Domain not found', CONSTANTS['VIR_ERR_NO_DOMAIN'])


def broken():
    return libvirtError('internal error: client socket is closed',
                        CONSTANTS['VIR_ERR_INTERNAL_ERROR'],
                        CONSTANTS['VIR_FROM_RPC'])


def domain_xml(name, balloon="model='virtio' autodeflate='on'",
               stats_period=10, floor_mb=None):
    metadata = ''
    if floor_mb is not None:
        metadata = ('<metadata><drs:balloon xmlns:drs="https://opendev.org/'
                    'openstack/nova-drs" floor_mb="%s"/></metadata>'
                    % floor_mb)
    stats = "<stats period='%d'/>" % stats_period if stats_period else ''
    device = ('<memballoon %s>%s</memballoon>' % (balloon, stats)
              if balloon else '')
    return ("<domain type='kvm'><name>%s</name>%s<devices>%s</devices>"
            "</domain>" % (name, metadata, device))


def guest_stats(cpu_time=10 ** 9, vcpus=1, current=4194304, maximum=4194304,
                usable=2097152, available=4000000, unused=1900000,
                major_fault=0, swap_in=0, swap_out=0, rss=3000000,
                rd_bytes=0, wr_bytes=0, rx_bytes=0, tx_bytes=0, state=1,
                reason=1):
    stats = {'state.state': state, 'state.reason': reason,
             'cpu.time': cpu_time, 'vcpu.current': vcpus,
             'vcpu.maximum': vcpus, 'balloon.current': current,
             'balloon.maximum': maximum, 'balloon.rss': rss,
             'block.count': 1, 'block.0.rd.bytes': rd_bytes,
             'block.0.wr.bytes': wr_bytes, 'block.0.rd.reqs': rd_bytes // 4096,
             'block.0.wr.reqs': wr_bytes // 4096, 'net.count': 1,
             'net.0.rx.bytes': rx_bytes, 'net.0.tx.bytes': tx_bytes}
    for i in range(vcpus):
        stats['vcpu.%d.time' % i] = cpu_time // vcpus
    if usable is not None:
        stats.update({'balloon.usable': usable,
                      'balloon.available': available,
                      'balloon.unused': unused,
                      'balloon.major_fault': major_fault,
                      'balloon.swap_in': swap_in,
                      'balloon.swap_out': swap_out})
    return stats


class FakeDomain:
    def __init__(self, conn, uuid, name, xml=None, stats=None):
        self.conn = conn
        self.uuid = uuid
        self._name = name
        self.xml = xml or domain_xml(name)
        self.stats = stats or guest_stats()
        self.xml_calls = 0
        self.memory_calls = []
        self.job = 0
        self.vanished = False
        #: (xml, key, uri, flags) of every setMetadata call that succeeded
        self.metadata_calls = []
        #: setMetadata calls, failed ones included
        self.metadata_attempts = 0
        #: raised by the next setMetadata calls when set
        self.metadata_error = None
        # the guest itself, whichever connection it is seen through
        self._origin = self

    def UUIDString(self):
        return self.uuid

    def name(self):
        return self._name

    def _check(self):
        self.conn._check()
        if self.vanished:
            raise no_domain()

    def XMLDesc(self, flags):
        self._check()
        self.xml_calls += 1
        return self.xml

    def setMemoryFlags(self, kib, flags):
        self._check()
        if self.conn.readonly:
            # as libvirtd answers a read-only client
            raise libvirtError('operation forbidden: read only access '
                               'prevents virDomainSetMemoryFlags',
                               CONSTANTS['VIR_ERR_OPERATION_DENIED'],
                               CONSTANTS['VIR_FROM_DOMAIN'])
        self.memory_calls.append((kib, flags))
        return 0

    def _metadata_node(self, root, uri):
        node = root.find('metadata')
        if node is None:
            return None, None
        return node, next((e for e in node
                           if e.tag.startswith('{%s}' % uri)), None)

    def metadata(self, kind, uri, flags):
        """As libvirtd answers: the element, its tags without prefix."""
        self._check()
        root = ElementTree.fromstring(self._origin.xml)  # nosec B314
        _node, element = self._metadata_node(root, uri)
        if element is None:
            raise libvirtError('metadata not found',
                               CONSTANTS['VIR_ERR_NO_DOMAIN_METADATA'])
        for e in element.iter():
            e.tag = e.tag.rsplit('}', 1)[-1]
        return ElementTree.tostring(element, encoding='unicode')

    def setMetadata(self, kind, xml, key, uri, flags):
        """As libvirtd does: one element per namespace, replaced whole."""
        self._check()
        if self.conn.readonly:
            raise libvirtError('operation forbidden: read only access '
                               'prevents virDomainSetMetadata',
                               CONSTANTS['VIR_ERR_OPERATION_DENIED'],
                               CONSTANTS['VIR_FROM_DOMAIN'])
        self._origin.metadata_attempts += 1
        if self._origin.metadata_error is not None:
            raise self._origin.metadata_error
        self.metadata_calls.append((xml, key, uri, flags))
        origin = self._origin
        root = ElementTree.fromstring(origin.xml)  # nosec B314
        node, old = self._metadata_node(root, uri)
        if node is None:
            node = ElementTree.Element('metadata')
            root.insert(1, node)
        if old is not None:
            node.remove(old)
        new = ElementTree.fromstring(xml)  # nosec B314
        for e in new.iter():
            # libvirtd puts the element and its children in the namespace
            e.tag = '{%s}%s' % (uri, e.tag)
        node.append(new)
        origin.xml = ElementTree.tostring(root, encoding='unicode')
        return 0

    def bound(self, conn):
        """This guest as seen through another connection (same state)."""
        other = copy.copy(self)
        other.conn = conn
        return other

    def jobInfo(self):
        self._check()
        if self.job is None:
            raise libvirtError('not supported',
                               CONSTANTS['VIR_ERR_NO_SUPPORT'])
        return [self.job, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]


class FakeConnection:
    def __init__(self, module, uri, readonly=True, domains=None):
        self.module = module
        self.uri = uri
        self.readonly = readonly
        #: uuid -> FakeDomain, shared by the connections of one "libvirtd"
        self.domains = {} if domains is None else domains
        self.alive = True
        self.callbacks = {}
        self.closed = False
        self.stats_calls = []

    def _check(self):
        if not self.alive:
            raise broken()

    def add(self, uuid, name, **kw):
        dom = FakeDomain(self, uuid, name, **kw)
        self.domains[uuid] = dom
        return dom

    def isAlive(self):
        return 1 if self.alive else 0

    def close(self):
        self.closed = True
        return 0

    def registerCloseCallback(self, cb, opaque):
        self.close_callback = cb

    def unregisterCloseCallback(self):
        self.close_callback = None

    def setKeepAlive(self, interval, count):
        self.keepalive = (interval, count)

    def domainEventRegisterAny(self, dom, event, cb, opaque):
        cid = len(self.callbacks) + 1
        self.callbacks[cid] = (event, cb)
        return cid

    def domainEventDeregisterAny(self, cid):
        self._check()
        del self.callbacks[cid]

    def fire(self, event, dom, *args):
        for ev, cb in list(self.callbacks.values()):
            if ev == event:
                cb(self, dom, *args, None)

    def getAllDomainStats(self, stats, flags):
        self._check()
        self.stats_calls.append((stats, flags))
        return [(d, dict(d.stats)) for d in self.domains.values()
                if not d.vanished]

    def lookupByUUIDString(self, uuid):
        self._check()
        dom = self.domains.get(uuid)
        if dom is None or dom.vanished:
            raise no_domain()
        return dom if dom.conn is self else dom.bound(self)


def make_module():
    """A fresh fake libvirt module.

    ``openReadOnly()`` returns ``module.next_connection`` (then a new
    read-only connection), ``open()`` ``module.next_write_connection``
    (then a new read-write connection to the same guests as the last
    read-only one); ``module.open_error`` makes both fail. Every
    connection opened is in ``module.opened``.
    """
    module = types.SimpleNamespace(**CONSTANTS)
    module.libvirtError = libvirtError
    module.opened = []
    module.open_error = None
    module.next_connection = None
    module.next_write_connection = None

    def open_readonly(uri):
        if module.open_error is not None:
            raise module.open_error
        conn = module.next_connection or FakeConnection(module, uri)
        module.next_connection = None
        conn.uri = uri
        module.opened.append(conn)
        return conn

    def open_(uri):
        if module.open_error is not None:
            raise module.open_error
        conn = module.next_write_connection
        module.next_write_connection = None
        if conn is None:
            readers = [c for c in module.opened if c.readonly]
            conn = FakeConnection(
                module, uri, readonly=False,
                domains=readers[-1].domains if readers else None)
        conn.uri = uri
        module.opened.append(conn)
        return conn

    module.openReadOnly = open_readonly
    module.open = open_
    module.virEventRegisterDefaultImpl = lambda: 0
    # blocks for ever, as the real one does without events
    module.virEventRunDefaultImpl = lambda: threading.Event().wait()
    module.registerErrorHandler = lambda handler, ctxt: None
    return module


GIB_KIB = 1048576


def sample(t, uuid='u1', config=None, vcpu_delays=None, **stats):
    """A GuestSample as the inspector makes it, at monotonic time t."""
    raw = guest_stats(**stats)
    balloon = {k[8:]: v for k, v in raw.items() if k.startswith('balloon.')}
    vcpus = raw['vcpu.current']
    return inspector.GuestSample(
        uuid=uuid, name='instance-' + uuid, state='running', monotonic=t,
        cpu_time=raw['cpu.time'], vcpus=vcpus,
        vcpu_times=[raw['vcpu.%d.time' % i] for i in range(vcpus)],
        vcpu_delays=vcpu_delays,
        balloon=balloon,
        block={'rd.bytes': raw['block.0.rd.bytes'],
               'wr.bytes': raw['block.0.wr.bytes'],
               'rd.reqs': raw['block.0.rd.reqs'],
               'wr.reqs': raw['block.0.wr.reqs']},
        net={'rx.bytes': raw['net.0.rx.bytes'],
             'tx.bytes': raw['net.0.tx.bytes']},
        config=config or inspector.GuestConfig(has_balloon=True))


def host_sample(t, busy=0, idle=0, iowait=0, avail_kib=8 * GIB_KIB,
                disks=None, nics=None, majflt=0):
    return hoststats.HostSample(
        monotonic=t, wallclock=1.8e9 + t, cpu_count=4,
        cpu={'user': busy, 'nice': 0, 'system': 0, 'idle': idle,
             'iowait': iowait, 'irq': 0, 'softirq': 0, 'steal': 0},
        memory={'MemTotal': 16 * GIB_KIB, 'MemFree': 2 * GIB_KIB,
                'MemAvailable': avail_kib, 'SwapTotal': 0, 'SwapFree': 0},
        vmstat={'pgmajfault': majflt, 'pswpin': 0, 'pswpout': 0},
        pressure=None, disks=disks or {}, nics=nics or {})
