# SPDX-License-Identifier: Apache-2.0
"""The end-to-end lab: two real compute hosts, and nova-drs processes.

:func:`start_hosts` runs ``tools/lab/nova-e2e.sh start`` (compute-a and
compute-b: Nova's libvirt driver on libvirtd instances of their own, in the
Nova lab) and returns what it wrote in ``hosts.json``; :func:`stop_hosts`
takes them out again. :class:`MemoryHog` holds memory of this machine.
:class:`ControlPlanePin` keeps the lab's own processes off one host's CPU.
:class:`Guest` reads a server's console and sends the lab guest its
commands (tools/lab/guest-init) on its second serial port, wherever Nova
runs it.
"""

import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time
from xml.etree import ElementTree

from tests.functional.agent import lab as agent_lab

REPO = agent_lab.REPO
SCRIPT = os.path.join(REPO, 'tools', 'lab', 'nova-e2e.sh')
LIBVIRTD_SCRIPT = os.path.join(REPO, 'tools', 'lab', 'libvirtd.sh')
LAB_RUN = os.environ.get('NOVA_DRS_LAB_RUN', '/tmp/nova-drs-lab')
HOSTS_JSON = os.path.join(LAB_RUN, 'nova', 'e2e', 'hosts.json')
#: the test guest's image in the lab's Glance stub
#: (tools/lab/nova_lab_stub.py), booted by Nova's libvirt driver
GUEST_IMAGE_ID = '6e6f7661-6472-4073-8000-6775657374a0'
#: the console scripts of this installation
BIN = os.path.dirname(sys.executable)
START_TIMEOUT = 900

#: oslo.log's timestamp at the start of each log line
_LOG_TIME = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ')


class LabUnavailable(Exception):
    """The end-to-end hosts cannot be started; the message says why."""


def _run(action):
    try:
        proc = subprocess.run([SCRIPT, action], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=START_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LabUnavailable('%s %s failed: %s' % (SCRIPT, action, e))
    if proc.returncode != 0:
        tail = '\n'.join(proc.stdout.splitlines()[-25:])
        raise LabUnavailable('%s %s exited with %d:\n%s'
                             % (SCRIPT, action, proc.returncode, tail))
    return proc.stdout


def start_hosts():
    """Start compute-a and compute-b; ``{name: host dict}``."""
    _run('start')
    with open(HOSTS_JSON) as f:
        return {host['name']: host for host in json.load(f)['hosts']}


def stop_hosts():
    return _run('stop')


def log_times(path, pattern):
    """Wall times (epoch) of the log lines of ``path`` matching ``pattern``.

    oslo.log writes local time without a zone: read as local time.
    """
    times = []
    try:
        with open(path, errors='replace') as f:
            for line in f:
                found = _LOG_TIME.match(line)
                if found and re.search(pattern, line):
                    stamp = datetime.datetime.strptime(
                        found.group(1), '%Y-%m-%d %H:%M:%S.%f')
                    times.append(stamp.timestamp())
    except OSError:
        pass
    return times


_HOG = """\
import sys
size = int(sys.argv[1]) * 1048576
held = bytearray(size)
held[::4096] = b'\\1' * len(range(0, size, 4096))  # touch every page
print('HELD', flush=True)
sys.stdin.read()
"""


class MemoryHog:
    """A process holding memory of this machine until stopped.

    The end-to-end hosts share this machine's memory: this makes it short
    of available memory for real, as a host full of guests would be.
    """

    def __init__(self, mib):
        self.mib = mib
        self.proc = subprocess.Popen(
            [sys.executable, '-c', _HOG, str(int(mib))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != 'HELD':
            self.stop()
            raise AssertionError('could not hold %d MiB of memory' % mib)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def _children():
    """``{pid: [child pid, ...]}`` of every process of this machine."""
    children = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                stat = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: the fields follow
        # its last ')'
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return ''


class ControlPlanePin:
    """The lab's own processes on some CPUs only, until released.

    The end-to-end hosts are one 2-core machine: each host's guests run on
    a core of their own (Nova's ``cpu_shared_set``), which is what that
    host's agent measures (``[drs_agent] cpu_set``), but the control plane
    (Nova's services, libvirtd, the nova-drs services, this test) is
    free to run on either. With one host's core saturated by its busy
    guests, the kernel runs nearly all of it on the other core, whose
    host then measures it as its own load. A real host runs its services
    on CPUs of their own, outside ``cpu_shared_set``; here there are none
    left, so they go where they disturb the scenario least.

    Pins every thread of the processes in the trees of ``roots`` (pids),
    except the guests (QEMU, which Nova pins to their host's core), to
    ``cpus``; new threads and children inherit it. :meth:`release` puts
    them all back on ``restore`` (this process's CPUs when pinned).
    Processes of other users of the machine are left alone: what they run
    on the destination's core is load it really has.
    """

    def __init__(self, cpus, roots):
        self.cpus = set(cpus)
        self.roots = [pid for pid in roots if pid]
        self.restore = os.sched_getaffinity(0)
        #: pids pinned, for the record
        self.pinned = self._apply(self.cpus)

    def _tree(self):
        children = _children()
        seen, todo = set(), list(self.roots)
        while todo:
            pid = todo.pop()
            if pid in seen or _comm(pid).startswith('qemu'):
                continue
            seen.add(pid)
            todo.extend(children.get(pid, ()))
        return seen

    def _apply(self, cpus):
        done = []
        for pid in sorted(self._tree()):
            try:
                tids = os.listdir('/proc/%d/task' % pid)
            except OSError:
                continue  # exited meanwhile
            for tid in tids:
                try:
                    os.sched_setaffinity(int(tid), cpus)
                except OSError:
                    pass  # exited meanwhile
            done.append(pid)
        return done

    def release(self):
        self._apply(self.restore)


def control_plane_roots(hosts):
    """The roots of the lab's own process trees, for :class:`ControlPlanePin`.

    This process (the nova-drs services it started, the ``openstack``
    commands), the Nova lab's services (their pid files, the end-to-end
    hosts' nova-compute included) and the hosts' libvirtd instances (their
    QEMU children are left out by :class:`ControlPlanePin`).
    """
    roots = [os.getpid()]
    pids = os.path.join(LAB_RUN, 'nova', 'pids')
    for name in sorted(os.listdir(pids)) if os.path.isdir(pids) else ():
        try:
            with open(os.path.join(pids, name)) as f:
                roots.append(int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    for name in hosts:
        proc = subprocess.run([LIBVIRTD_SCRIPT, 'pid', name],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip().isdigit():
            roots.append(int(proc.stdout.strip()))
    return roots


class Guest:
    """A server of the end-to-end hosts, seen from its hypervisor."""

    def __init__(self, server_id, hosts):
        self.id = server_id
        self.hosts = hosts

    def console_lines(self, host):
        """The guest's console lines while it ran on ``host``."""
        path = os.path.join(self.hosts[host]['instances'], self.id,
                            'console.log')
        try:
            with open(path, 'rb') as f:
                return f.read().decode('utf-8', 'replace').splitlines()
        except OSError:
            return []

    def domain(self, host):
        """The libvirt domain on ``host``, or None."""
        conn = agent_lab.libvirt.open(self.hosts[host]['uri'])
        try:
            dom = conn.lookupByUUIDString(self.id)
            return (dom.isActive(), dom.XMLDesc(0), dom.memoryStats())
        except agent_lab.libvirt.libvirtError:
            return None
        finally:
            conn.close()

    def running_on(self):
        """The hosts whose libvirtd runs this guest."""
        return [name for name in self.hosts
                if (self.domain(name) or (False,))[0]]

    def actual_mib(self, host):
        found = self.domain(host)
        return None if found is None else found[2].get('actual', 0) / 1024.0

    def command(self, host, line, ack, timeout=10.0, attempts=3):
        """Send a command until the guest's console shows ``ack``.

        The guest reads its second serial port a line at a time: a line
        that arrives while it is not reading is lost, and sent again.
        """
        for _ in range(attempts):
            seen = sum(ack in text for text in self.console_lines(host))
            self._send(host, line)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if sum(ack in text
                       for text in self.console_lines(host)) > seen:
                    return
                time.sleep(0.2)
        raise AssertionError('%s on %s did not answer %r with %r'
                             % (self.id, host, line, ack))

    def _send(self, host, line):
        """Send one command line to the guest's second serial port."""
        found = self.domain(host)
        if found is None:
            raise AssertionError('%s does not run on %s' % (self.id, host))
        address = None
        for serial in ElementTree.fromstring(found[1]).iter('serial'):
            target = serial.find('target')
            source = serial.find('source')
            if (target is not None and target.get('port') == '1'
                    and source is not None):
                address = (source.get('host'), int(source.get('service')))
        if address is None:
            raise AssertionError('no second serial port on TCP in the '
                                 'domain of %s' % self.id)
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(line.encode('ascii') + b'\n')
