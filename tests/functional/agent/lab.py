# SPDX-License-Identifier: Apache-2.0
"""The agent lab: a private libvirtd, tiny TCG guests, RabbitMQ.

``tools/lab/setup-agent-lab.sh`` installs and starts everything; this
module only connects to it. When the lab is not there the tests fail with
a message naming that script, unless ``NOVA_DRS_SKIP_LIBVIRT=1`` is set
(then they are skipped: for developers without root).

Environment:

* ``NOVA_DRS_LAB_DIR``: the lab directory (default
  ``/var/tmp/nova-drs-lab``), as for the scripts;
* ``NOVA_DRS_TRANSPORT_URL``: RabbitMQ (default
  ``rabbit://guest:guest@127.0.0.1:5672/``).
"""

import os
import socket
import subprocess
import threading
import time
import uuid

from tests import polling

#: the suites' shared polling helper
wait_for = polling.wait_for

try:
    import libvirt
except ImportError:
    # reported by check(), so that NOVA_DRS_SKIP_LIBVIRT=1 can skip
    libvirt = None

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
TOOLS = os.path.join(REPO, 'tools', 'lab')
LAB_DIR = os.environ.get('NOVA_DRS_LAB_DIR', '/var/tmp/nova-drs-lab')
GUEST_DIR = os.path.join(LAB_DIR, 'guest')
RUN_DIR = os.path.join(LAB_DIR, 'run')
URI = ('qemu+unix:///system?socket=%s'
       % os.path.join(LAB_DIR, 'libvirtd', 'run', 'libvirt-sock'))
TRANSPORT_URL = os.environ.get('NOVA_DRS_TRANSPORT_URL',
                               'rabbit://guest:guest@127.0.0.1:5672/')
SETUP = 'tools/lab/setup-agent-lab.sh'
PREFIX = 'drs-ft-'
MIB = 1024


class LabUnavailable(Exception):
    """The lab is not running; the message says what is missing."""


def skip_requested():
    return os.environ.get('NOVA_DRS_SKIP_LIBVIRT') == '1'


def check():
    """Raise LabUnavailable unless libvirtd, the guest and RabbitMQ are up."""
    if libvirt is None:
        raise LabUnavailable(
            'libvirt-python is not installed. Run %s (as root) first, or '
            'set NOVA_DRS_SKIP_LIBVIRT=1 to skip these tests.' % SETUP)
    missing = []
    for name in ('vmlinuz', 'initrd.gz'):
        if not os.path.exists(os.path.join(GUEST_DIR, name)):
            missing.append('guest image %s' % os.path.join(GUEST_DIR, name))
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as e:
        missing.append('libvirtd at %s (%s)' % (URI, e.get_error_message()))
    host, port = _broker_address()
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as e:
        missing.append('RabbitMQ at %s:%s (%s)' % (host, port, e))
    if missing:
        raise LabUnavailable(
            'the agent lab is not running: missing %s. Run %s (as root) '
            'first, or set NOVA_DRS_SKIP_LIBVIRT=1 to skip these tests.'
            % ('; '.join(missing), SETUP))


def _broker_address():
    rest = TRANSPORT_URL.split('://', 1)[1].split('/', 1)[0]
    hostport = rest.rsplit('@', 1)[-1]
    host, _, port = hostport.partition(':')
    return host or '127.0.0.1', int(port or 5672)


def libvirtd(action):
    """Run ``tools/lab/libvirtd.sh ACTION``."""
    subprocess.run([os.path.join(TOOLS, 'libvirtd.sh'), action], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


class Guest:
    """A transient lab guest: busybox initramfs, virtio balloon and disk."""

    def __init__(self, conn, name, memory_mib=512, autodeflate=True,
                 free_page_reporting=False, floor_mb=None, stats_period=1):
        self.conn = conn
        self.name = PREFIX + name
        self.uuid = str(uuid.uuid4())
        self.memory_mib = memory_mib
        self.console_path = os.path.join(RUN_DIR, self.name + '.log')
        self.control_path = os.path.join(RUN_DIR, self.name + '.sock')
        self.disk_path = os.path.join(RUN_DIR, self.name + '.img')
        self.autodeflate = autodeflate
        self.free_page_reporting = free_page_reporting
        self.floor_mb = floor_mb
        self.stats_period = stats_period
        self.dom = None

    def xml(self):
        balloon = ["model='virtio'"]
        if self.autodeflate:
            balloon.append("autodeflate='on'")
        if self.free_page_reporting:
            balloon.append("freePageReporting='on'")
        metadata = ''
        if self.floor_mb is not None:
            metadata = ("<metadata><drs:balloon xmlns:drs="
                        "'https://opendev.org/openstack/nova-drs' "
                        "floor_mb='%d'/></metadata>" % self.floor_mb)
        return """<domain type='qemu'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  %(metadata)s
  <memory unit='MiB'>%(mem)d</memory>
  <currentMemory unit='MiB'>%(mem)d</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%(guest)s/vmlinuz</kernel>
    <initrd>%(guest)s/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=5</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='%(console)s' append='on'/>
      <target port='0'/>
    </serial>
    <serial type='unix'>
      <source mode='bind' path='%(control)s'/>
      <target port='1'/>
    </serial>
    <memballoon %(balloon)s>
      <stats period='%(period)d'/>
    </memballoon>
  </devices>
</domain>""" % {'name': self.name, 'uuid': self.uuid, 'mem': self.memory_mib,
                'guest': GUEST_DIR, 'disk': self.disk_path,
                'console': self.console_path, 'control': self.control_path,
                'balloon': ' '.join(balloon), 'metadata': metadata,
                'period': self.stats_period}

    def start(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        for path in (self.console_path, self.control_path):
            if os.path.exists(path):
                os.unlink(path)
        with open(self.disk_path, 'wb') as f:
            f.truncate(16 * 1024 * 1024)
        self.dom = self.conn.createXML(self.xml(), 0)
        return self

    def rebind(self, conn):
        """Use another connection to the same libvirtd."""
        self.conn = conn
        try:
            self.dom = conn.lookupByUUIDString(self.uuid)
        except libvirt.libvirtError:
            pass

    def console(self):
        try:
            with open(self.console_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def cpu_seconds(self):
        """CPU time the guest has used so far (all its vCPUs)."""
        return self.dom.info()[4] / 1e9

    def wait_ready(self, timeout=120):
        """Wait for the guest's init and its balloon statistics.

        ``timeout`` is seconds of the guest's own CPU time: a TCG boot is
        CPU work, and on a busy machine the guest boots late, not never.
        """
        wait_for(lambda: 'DRS-GUEST: READY' in self.console(), timeout,
                 what='%s to boot' % self.name, clock=self.cpu_seconds)
        wait_for(lambda: 'usable' in self.dom.memoryStats(), 30,
                 what='balloon statistics of %s' % self.name)
        return self

    def command(self, line):
        """Send one command line to the guest (see tools/lab/guest-init)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.control_path)
            s.sendall(line.encode() + b'\n')
            time.sleep(0.2)
        finally:
            s.close()

    def actual_mib(self):
        """The balloon size QEMU reports now."""
        return self.dom.memoryStats()['actual'] / MIB

    def cached_mib(self):
        """The balloon size libvirt reports in getAllDomainStats.

        libvirt updates it from QEMU's balloon-change event, up to about a
        second after the balloon moved.
        """
        ((_dom, stats),) = self.conn.domainListGetStats(
            [self.dom], libvirt.VIR_DOMAIN_STATS_BALLOON)
        return stats['balloon.current'] / MIB

    def oom_lines(self):
        return [line for line in self.console().splitlines()
                if 'Out of memory' in line or 'oom-kill' in line
                or 'Kernel panic' in line]

    def alive(self):
        try:
            return self.dom.isActive() == 1
        except libvirt.libvirtError:
            return False

    def destroy(self):
        try:
            self.dom.destroy()
        except libvirt.libvirtError:
            pass
        for path in (self.disk_path, self.control_path):
            if os.path.exists(path):
                os.unlink(path)


def cleanup(conn):
    """Destroy every lab guest left over by an earlier run."""
    for dom in conn.listAllDomains():
        if dom.name().startswith(PREFIX):
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass


class TcpProxy:
    """A TCP relay to the broker that a test can cut and restore.

    The agent talks to RabbitMQ through it; :meth:`stop` closes the
    listening socket and every relayed connection (the broker "goes
    away" for the agent only), :meth:`start` listens again on the same
    port.
    """

    def __init__(self, target):
        self.target = target
        self.port = None
        self._listener = None
        self._sockets = []
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', self.port or 0))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,),
                         daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst),
                                 daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close()
            # alone would leave the socket listening
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def broker_address():
    return _broker_address()


def proxied_transport_url(port):
    """TRANSPORT_URL with its host and port replaced by 127.0.0.1:port."""
    scheme, rest = TRANSPORT_URL.split('://', 1)
    netloc, _, path = rest.partition('/')
    credentials = netloc.rsplit('@', 1)[0] + '@' if '@' in netloc else ''
    return '%s://%s127.0.0.1:%d/%s' % (scheme, credentials, port, path)
