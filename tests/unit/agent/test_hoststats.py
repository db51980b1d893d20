# SPDX-License-Identifier: Apache-2.0
import os
from unittest import mock

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


STAT_4 = """\
cpu  1111 0 0 4000 40 0 0 0 0 0
cpu0 1000 0 0 1000 10 0 0 0 0 0
cpu1 100 0 0 1000 10 0 0 0 0 0
cpu2 10 0 0 1000 10 0 0 0 0 0
cpu3 1 0 0 1000 10 0 0 0 0 0
intr 12345
"""


def stat(cpus, user, idle):
    """A /proc/stat with lines cpuN of ``cpus``, each at user, idle."""
    lines = ['cpu  %d 0 0 %d 0 0 0 0 0 0'
             % (user * len(cpus), idle * len(cpus))]
    lines += ['cpu%d %d 0 0 %d 0 0 0 0 0 0' % (cpu, user, idle)
              for cpu in sorted(cpus)]
    return '\n'.join(lines + ['intr 1', ''])


class TestHostStatsCpuSet(base.BaseTestCase):
    """``cpus``: the CPU load and count of a set of CPUs only."""

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.proc, self.sys = fake_tree(self.root)
        write(self.proc, 'stat', STAT_4)

    def conf(self, cpu_set):
        conf = mock.Mock()
        conf.drs_agent.cpu_set = cpu_set
        return conf

    def test_all_cpus_by_default(self):
        s = hoststats.HostStatsReader(self.proc, self.sys).read()
        self.assertEqual(4, s.cpu_count)
        self.assertEqual(1111, s.cpu['user'])
        self.assertEqual(4000, s.cpu['idle'])

    def test_sum_of_selected_cpus(self):
        reader = hoststats.HostStatsReader(self.proc, self.sys,
                                           cpus={1, 3})
        s = reader.read()
        self.assertEqual(2, s.cpu_count)
        self.assertEqual({'user': 101, 'nice': 0, 'system': 0,
                          'idle': 2000, 'iowait': 20, 'irq': 0,
                          'softirq': 0, 'steal': 0}, s.cpu)
        s = hoststats.HostStatsReader(self.proc, self.sys,
                                      cpus=[0]).read()
        self.assertEqual(1, s.cpu_count)
        self.assertEqual(1000, s.cpu['user'])

    def test_short_cpu_lines(self):
        # kernels before 2.6.11 have no steal column
        write(self.proc, 'stat', 'cpu  3 0 0 9 1 0 0\ncpu0 1 0 0 4 1 0 0\n'
                                 'cpu1 2 0 0 5 0 0 0\n')
        s = hoststats.HostStatsReader(self.proc, self.sys,
                                      cpus={0, 1}).read()
        self.assertEqual({'user': 3, 'nice': 0, 'system': 0, 'idle': 9,
                          'iowait': 1, 'irq': 0, 'softirq': 0,
                          'steal': 0}, s.cpu)

    def test_missing_cpus_at_start(self):
        e = self.assertRaises(ValueError, hoststats.HostStatsReader,
                              self.proc, self.sys, cpus={2, 3, 4, 5, 9})
        self.assertIn('CPU(s) 4-5,9 of the CPU set are not in %s/stat'
                      % self.proc, str(e))
        self.assertIn('the CPUs there are 0-3', str(e))

    def test_empty_set(self):
        e = self.assertRaises(ValueError, hoststats.HostStatsReader,
                              self.proc, self.sys, cpus=set())
        self.assertIn('the CPU set is empty', str(e))

    def test_from_conf(self):
        reader = hoststats.HostStatsReader.from_conf(
            self.conf('1-3,^2'), self.proc, self.sys)
        self.assertEqual(frozenset({1, 3}), reader.cpus)
        self.assertEqual(2, reader.read().cpu_count)
        for unset in (None, '', '  '):
            reader = hoststats.HostStatsReader.from_conf(
                self.conf(unset), self.proc, self.sys)
            self.assertIsNone(reader.cpus)
            self.assertEqual(4, reader.read().cpu_count)

    def test_from_conf_errors(self):
        e = self.assertRaises(ValueError, hoststats.HostStatsReader.from_conf,
                              self.conf('0,1-x'), self.proc, self.sys)
        self.assertIn("invalid value for [drs_agent] cpu_set: invalid item "
                      "'1-x'", str(e))
        e = self.assertRaises(ValueError, hoststats.HostStatsReader.from_conf,
                              self.conf('^1'), self.proc, self.sys)
        self.assertIn('invalid value for [drs_agent] cpu_set', str(e))
        self.assertIn('selects no CPU', str(e))
        e = self.assertRaises(ValueError, hoststats.HostStatsReader.from_conf,
                              self.conf('2-7'), self.proc, self.sys)
        self.assertIn('[drs_agent] cpu_set = 2-7: CPU(s) 4-7 of the CPU set '
                      'are not in', str(e))
        self.assertIn('the CPUs there are 0-3', str(e))

    def test_cpu_taken_offline_then_back(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='nova_drs.agent.hoststats'))
        reader = hoststats.HostStatsReader(self.proc, self.sys,
                                           cpus={1, 2, 3})
        write(self.proc, 'stat', stat((0, 1, 2, 3), user=10, idle=100))
        s1 = reader.read()
        self.assertEqual(3, s1.cpu_count)
        self.assertEqual((30, 300), (s1.cpu['user'], s1.cpu['idle']))
        # CPU 2 is taken offline: it leaves /proc/stat
        offline = (0, 1, 3)
        write(self.proc, 'stat', stat(offline, user=20, idle=200))
        s2 = reader.read()
        self.assertEqual(2, s2.cpu_count)
        # CPU 2 keeps its last counters: the sum does not go backwards
        self.assertEqual((50, 500), (s2.cpu['user'], s2.cpu['idle']))
        self.assertIn('CPU(s) 2 of [drs_agent] cpu_set are not in',
                      log.output)
        self.assertIn('measured over CPU(s) 1,3', log.output)
        self.assertEqual(1, log.output.count('not in'))
        # the warning is logged once, not at every reading
        write(self.proc, 'stat', stat(offline, user=30, idle=300))
        s3 = reader.read()
        self.assertEqual((70, 700), (s3.cpu['user'], s3.cpu['idle']))
        self.assertEqual(1, log.output.count('not in'))
        # back online
        write(self.proc, 'stat', stat((0, 1, 2, 3), user=40, idle=400))
        s4 = reader.read()
        self.assertEqual(3, s4.cpu_count)
        self.assertEqual((120, 1200), (s4.cpu['user'], s4.cpu['idle']))
        self.assertIn('All CPUs of [drs_agent] cpu_set (1-3) are back',
                      log.output)

    def test_all_cpus_of_the_set_offline(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='nova_drs.agent.hoststats'))
        reader = hoststats.HostStatsReader(self.proc, self.sys,
                                           cpus={2, 3})
        write(self.proc, 'stat', stat((0, 1), user=1, idle=1))
        e = self.assertRaises(ValueError, reader.read)
        self.assertIn('none of the CPUs of [drs_agent] cpu_set (2-3) is in',
                      str(e))
        self.assertIn('CPU(s) 2-3 of [drs_agent] cpu_set are not in',
                      log.output)

    def test_real_proc(self):
        cpus = set(hoststats.HostStatsReader._per_cpu(
            hoststats.HostStatsReader()._read('stat'), None))
        first = min(cpus)
        s = hoststats.HostStatsReader(cpus={first}).read()
        self.assertEqual(1, s.cpu_count)
        self.assertGreater(sum(s.cpu.values()), 0)
