# SPDX-License-Identifier: Apache-2.0
import os

import fixtures
from oslotest import base

from nova_drs.agent import hoststats

STAT = """\
cpu  100 5 50 800 20 3 2 10 0 0
cpu0 50 2 25 400 10 1 1 5 0 0
cpu1 50 3 25 400 10 2 1 5 0 0
intr 12345
ctxt 6789
"""
MEMINFO = """\
MemTotal:       16384000 kB
MemFree:         2048000 kB
MemAvailable:    8192000 kB
Buffers:          100000 kB
SwapTotal:       1024000 kB
SwapFree:         512000 kB
"""
VMSTAT = """\
nr_free_pages 512000
pgmajfault 1234
pswpin 10
pswpout 20
"""
PSI = {
    'cpu': 'some avg10=1.50 avg60=1.00 avg300=0.50 total=100\n'
           'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    'memory': 'some avg10=2.25 avg60=0.00 avg300=0.00 total=10\n'
              'full avg10=0.75 avg60=0.00 avg300=0.00 total=5\n',
    'io': 'some avg10=3.00 avg60=0.00 avg300=0.00 total=1\n'
          'full avg10=1.00 avg60=0.00 avg300=0.00 total=1\n',
}
DISKSTATS = """\
 253       0 vda 1000 10 80000 500 2000 20 160000 900 0 1000 1400 0 0 0 0
 253       1 vda1 900 10 70000 400 1900 20 150000 800 0 900 1200 0 0 0 0
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0
 252       0 dm-0 10 0 20 0 0 0 0 0 0 0 0 0 0 0 0
"""
NETDEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 5000000 4000 0 0 0 0 0 0 3000000 2000 0 0 0 0 0 0
 vnet0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0
  br0: 700 1 0 0 0 0 0 0 800 2 0 0 0 0 0 0
"""  # noqa: E501


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as f:
        f.write(text)


def fake_tree(root, psi=True):
    proc, sys = os.path.join(root, 'proc'), os.path.join(root, 'sys')
    write(proc, 'stat', STAT)
    write(proc, 'meminfo', MEMINFO)
    write(proc, 'vmstat', VMSTAT)
    write(proc, 'diskstats', DISKSTATS)
    write(proc, 'net/dev', NETDEV)
    if psi:
        for name, text in PSI.items():
            write(proc, 'pressure/' + name, text)
    for disk in ('vda', 'loop0', 'dm-0'):
        os.makedirs(os.path.join(sys, 'block', disk))
    os.makedirs(os.path.join(sys, 'class', 'net', 'br0', 'bridge'))
    return proc, sys


class TestHostStats(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path

    def test_read(self):
        proc, sys = fake_tree(self.root)
        s = hoststats.HostStatsReader(proc, sys).read()
        self.assertEqual(2, s.cpu_count)
        self.assertEqual({'user': 100, 'nice': 5, 'system': 50,
                          'idle': 800, 'iowait': 20, 'irq': 3,
                          'softirq': 2, 'steal': 10}, s.cpu)
        self.assertEqual({'MemTotal': 16384000, 'MemFree': 2048000,
                          'MemAvailable': 8192000, 'SwapTotal': 1024000,
                          'SwapFree': 512000}, s.memory)
        self.assertEqual({'pgmajfault': 1234, 'pswpin': 10, 'pswpout': 20},
                         s.vmstat)
        self.assertEqual({'cpu_some': 1.5, 'memory_some': 2.25,
                          'memory_full': 0.75, 'io_some': 3.0,
                          'io_full': 1.0}, s.pressure)
        # whole disks only: no partition, loop or device-mapper device
        self.assertEqual({'vda': (1000, 80000, 2000, 160000)}, s.disks)
        # no loopback, guest tap or bridge
        self.assertEqual({'eth0': (5000000, 3000000)}, s.nics)
        self.assertGreater(s.monotonic, 0)
        self.assertGreater(s.wallclock, 1e9)

    def test_no_pressure_stall_information(self):
        proc, sys = fake_tree(self.root, psi=False)
        self.assertIsNone(hoststats.HostStatsReader(proc, sys).read()
                          .pressure)

    def test_old_kernel_without_memavailable(self):
        proc, sys = fake_tree(self.root)
        write(proc, 'meminfo', 'MemTotal: 1000 kB\nMemFree: 300 kB\n')
        s = hoststats.HostStatsReader(proc, sys).read()
        self.assertEqual(300, s.memory['MemAvailable'])

    def test_without_sysfs(self):
        proc, _sys = fake_tree(self.root)
        s = hoststats.HostStatsReader(proc, '/nonexistent').read()
        # partitions cannot be told from disks; virtual devices still go
        self.assertEqual({'vda', 'vda1'}, set(s.disks))

    def test_real_proc(self):
        s = hoststats.HostStatsReader().read()
        self.assertGreater(s.memory['MemTotal'], 0)
        self.assertGreaterEqual(s.cpu_count, 1)
