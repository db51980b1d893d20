# SPDX-License-Identifier: Apache-2.0
"""Host statistics read from /proc: CPU, memory, pressure, disks, NICs.

Everything here is a raw counter or level, as the kernel reports it;
:mod:`nova_drs.agent.metrics` turns two samples into rates.

The host's CPU counters and CPU count are those of all its CPUs (the
aggregate ``cpu`` line of /proc/stat), or, with ``[drs_agent] cpu_set``,
those of the CPUs of that set only (the sum of their ``cpuN`` lines).
"""

import dataclasses
import os
import time

from oslo_log import log as logging

from nova_drs.agent import cpuset as cpuset_mod

LOG = logging.getLogger(__name__)

#: /proc/stat CPU columns, in the kernel's order
CPU_FIELDS = ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq',
              'steal')
MEMINFO_FIELDS = ('MemTotal', 'MemFree', 'MemAvailable', 'SwapTotal',
                  'SwapFree')
VMSTAT_FIELDS = ('pgmajfault', 'pswpin', 'pswpout')
#: block devices that are not disks of their own (or stack on others)
VIRTUAL_DISK_PREFIXES = ('loop', 'ram', 'zram', 'dm-', 'md', 'sr', 'nbd',
                         'fd')
#: network interfaces counted elsewhere (guest taps) or not at all
VIRTUAL_NIC_PREFIXES = ('lo', 'vnet', 'tap', 'virbr', 'ifb')


def _counters(fields):
    """:data:`CPU_FIELDS` -> jiffies, from the split line of one CPU."""
    values = [int(v) for v in fields[1:1 + len(CPU_FIELDS)]]
    values += [0] * (len(CPU_FIELDS) - len(values))
    return dict(zip(CPU_FIELDS, values))


@dataclasses.dataclass
class HostSample:
    """One reading of the host's counters."""

    #: time.monotonic() of the reading
    monotonic: float
    #: time.time() of the reading
    wallclock: float
    #: CPUs measured: all online CPUs, or those of the CPU set
    cpu_count: int
    #: jiffies per field of :data:`CPU_FIELDS`, the CPUs measured together
    cpu: dict
    #: KiB per field of :data:`MEMINFO_FIELDS`
    memory: dict
    #: counters of :data:`VMSTAT_FIELDS` (pages, or events)
    vmstat: dict
    #: avg10 percentages (cpu_some, memory_some, memory_full, io_some,
    #: io_full), None when the kernel has no PSI
    pressure: dict
    #: name -> (reads, sectors read, writes, sectors written)
    disks: dict
    #: name -> (bytes received, bytes sent)
    nics: dict


class HostStatsReader:
    """Read :class:`HostSample` from ``proc`` and ``sys`` trees.

    :param proc: mount point of procfs (tests pass a directory of files).
    :param sys: mount point of sysfs.
    :param cpus: CPU numbers to measure the host's CPU load and count
        over (``[drs_agent] cpu_set``), or None for all CPUs. Every one
        must be in /proc/stat now.
    :raises ValueError: ``cpus`` is empty, or has CPUs that are not in
        /proc/stat (offline or absent); the message names them.
    """

    def __init__(self, proc='/proc', sys='/sys', cpus=None):
        self.proc = proc
        self.sys = sys
        self.cpus = None if cpus is None else frozenset(cpus)
        #: CPUs of the set missing from /proc/stat at the last reading
        self._missing = frozenset()
        #: CPU number -> its last counters read, for CPUs of the set
        self._last_cpu = {}
        if self.cpus is not None:
            self.check_cpus()

    @classmethod
    def from_conf(cls, conf, proc='/proc', sys='/sys'):
        """A reader measuring the CPUs of ``[drs_agent] cpu_set``.

        An unset or blank option means all CPUs.

        :raises ValueError: the option cannot be parsed, or names CPUs
            that are not in /proc/stat; the message names the option.
        """
        spec = conf.drs_agent.cpu_set
        cpus = None
        if spec is not None and spec.strip():
            try:
                cpus = cpuset_mod.parse_cpu_set(spec)
            except ValueError as e:
                raise ValueError('invalid value for [drs_agent] cpu_set: %s'
                                 % e)
        try:
            return cls(proc, sys, cpus=cpus)
        except ValueError as e:
            raise ValueError('[drs_agent] cpu_set = %s: %s' % (spec, e))

    def check_cpus(self):
        """Check that every CPU of the set is in /proc/stat.

        :raises ValueError: the set is empty, or has CPUs that are not in
            /proc/stat, named with the CPUs that are.
        """
        if not self.cpus:
            raise ValueError('the CPU set is empty')
        present = set(self._per_cpu(self._read('stat'), None))
        missing = self.cpus - present
        if missing:
            raise ValueError(
                'CPU(s) %s of the CPU set are not in %s/stat (offline or '
                'absent); the CPUs there are %s' % (
                    cpuset_mod.format_cpu_set(missing), self.proc,
                    cpuset_mod.format_cpu_set(present) or 'none'))

    def _read(self, *parts):
        with open(os.path.join(self.proc, *parts)) as f:
            return f.read()

    def read(self):
        cpu, cpu_count = self._cpu()
        return HostSample(
            monotonic=time.monotonic(), wallclock=time.time(),
            cpu_count=cpu_count, cpu=cpu, memory=self._meminfo(),
            vmstat=self._vmstat(), pressure=self._pressure(),
            disks=self._disks(), nics=self._nics())

    def _cpu(self):
        text = self._read('stat')
        if self.cpus is not None:
            return self._cpu_set(text)
        total = None
        count = 0
        for line in text.splitlines():
            if not line.startswith('cpu'):
                continue
            fields = line.split()
            if fields[0] == 'cpu':
                total = _counters(fields)
            else:
                count += 1
        if total is None:
            raise ValueError('no cpu line in %s/stat' % self.proc)
        return total, max(count, 1)

    @staticmethod
    def _per_cpu(text, wanted):
        """CPU number -> counters of the ``cpuN`` lines of /proc/stat.

        Only the CPUs of ``wanted`` are parsed (all, with counters None,
        when ``wanted`` is None).
        """
        out = {}
        for line in text.splitlines():
            if not line.startswith('cpu'):
                continue
            fields = line.split()
            number = fields[0][3:]
            if not (number.isascii() and number.isdigit()):
                continue
            cpu = int(number)
            if wanted is None:
                out[cpu] = None
            elif cpu in wanted:
                out[cpu] = _counters(fields)
        return out

    def _cpu_set(self, text):
        """Counters and count of the CPUs of the set.

        A CPU of the set that left /proc/stat since the start (taken
        offline) is not counted and keeps its last counters in the sum,
        so that the sum never goes backwards; a warning is logged when
        the CPUs missing change, and the CPUs back are counted again.
        """
        per_cpu = self._per_cpu(text, self.cpus)
        missing = self.cpus - per_cpu.keys()
        if missing != self._missing:
            if missing:
                LOG.warning(
                    'CPU(s) %(missing)s of [drs_agent] cpu_set are not in '
                    '%(proc)s/stat (taken offline?): the host\'s CPU load '
                    'is measured over CPU(s) %(present)s until they are '
                    'back', {'missing': cpuset_mod.format_cpu_set(missing),
                             'proc': self.proc,
                             'present': cpuset_mod.format_cpu_set(
                                 per_cpu) or 'none'})
            else:
                LOG.info('All CPUs of [drs_agent] cpu_set (%s) are back in '
                         '%s/stat', cpuset_mod.format_cpu_set(self.cpus),
                         self.proc)
            self._missing = frozenset(missing)
        if not per_cpu:
            raise ValueError('none of the CPUs of [drs_agent] cpu_set (%s) '
                             'is in %s/stat' % (
                                 cpuset_mod.format_cpu_set(self.cpus),
                                 self.proc))
        self._last_cpu.update(per_cpu)
        total = dict.fromkeys(CPU_FIELDS, 0)
        for cpu in self.cpus & self._last_cpu.keys():
            for key, value in self._last_cpu[cpu].items():
                total[key] += value
        return total, len(per_cpu)

    def _meminfo(self):
        out = dict.fromkeys(MEMINFO_FIELDS, 0)
        for line in self._read('meminfo').splitlines():
            key, _, rest = line.partition(':')
            if key in out:
                out[key] = int(rest.split()[0])
        if not out['MemAvailable']:
            # kernels before 3.14: a lower bound
            out['MemAvailable'] = out['MemFree']
        return out

    def _vmstat(self):
        out = dict.fromkeys(VMSTAT_FIELDS, 0)
        for line in self._read('vmstat').splitlines():
            key, _, value = line.partition(' ')
            if key in out:
                out[key] = int(value)
        return out

    def _pressure(self):
        out = {}
        for resource, kinds in (('cpu', ('some',)),
                                ('memory', ('some', 'full')),
                                ('io', ('some', 'full'))):
            try:
                text = self._read('pressure', resource)
            except OSError:
                # no PSI: kernel without CONFIG_PSI, or psi=0
                return None
            for line in text.splitlines():
                fields = line.split()
                if fields and fields[0] in kinds:
                    avg10 = fields[1].partition('=')[2]
                    out['%s_%s' % (resource, fields[0])] = float(avg10)
            for kind in kinds:
                out.setdefault('%s_%s' % (resource, kind), 0.0)
        return out

    def _whole_disks(self):
        try:
            names = os.listdir(os.path.join(self.sys, 'block'))
        except OSError:
            return None
        return {n for n in names if not n.startswith(VIRTUAL_DISK_PREFIXES)}

    def _disks(self):
        wanted = self._whole_disks()
        out = {}
        for line in self._read('diskstats').splitlines():
            fields = line.split()
            if len(fields) < 10:
                continue
            name = fields[2]
            if wanted is not None and name not in wanted:
                continue
            if wanted is None and name.startswith(VIRTUAL_DISK_PREFIXES):
                continue
            out[name] = (int(fields[3]), int(fields[5]), int(fields[7]),
                         int(fields[9]))
        return out

    def _nics(self):
        out = {}
        for line in self._read('net', 'dev').splitlines()[2:]:
            name, _, rest = line.partition(':')
            name = name.strip()
            if not name or name.startswith(VIRTUAL_NIC_PREFIXES) \
                    or os.path.isdir(os.path.join(self.sys, 'class', 'net',
                                                  name, 'bridge')):
                continue
            fields = rest.split()
            out[name] = (int(fields[0]), int(fields[8]))
        return out
