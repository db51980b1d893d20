# SPDX-License-Identifier: Apache-2.0
"""Host statistics read from /proc: CPU, memory, pressure, disks, NICs.

Everything here is a raw counter or level, as the kernel reports it;
:mod:`nova_drs.agent.metrics` turns two samples into rates.
"""

import dataclasses
import os
import time

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


@dataclasses.dataclass
class HostSample:
    """One reading of the host's counters."""

    #: time.monotonic() of the reading
    monotonic: float
    #: time.time() of the reading
    wallclock: float
    cpu_count: int
    #: jiffies per field of :data:`CPU_FIELDS`, all CPUs together
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
    """

    def __init__(self, proc='/proc', sys='/sys'):
        self.proc = proc
        self.sys = sys

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
        total = None
        count = 0
        for line in self._read('stat').splitlines():
            if not line.startswith('cpu'):
                continue
            fields = line.split()
            if fields[0] == 'cpu':
                values = [int(v) for v in fields[1:1 + len(CPU_FIELDS)]]
                values += [0] * (len(CPU_FIELDS) - len(values))
                total = dict(zip(CPU_FIELDS, values))
            else:
                count += 1
        if total is None:
            raise ValueError('no cpu line in %s/stat' % self.proc)
        return total, max(count, 1)

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
