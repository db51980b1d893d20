# SPDX-License-Identifier: Apache-2.0
"""The simulated hosts and the initial placement of the instances.

Hosts are identical: ``vcpus`` physical cores, ``memory_mb`` of memory of
which ``reserved_host_memory_mb`` is kept for the host, and Placement's
allocation ratios. Disk and network bandwidths are tracked only when the
trace has disk and network columns (Bitbrains).

Instances are placed as Nova would boot them on a cloud configured to
fill hosts (packing weighers): in arrival order, each on the first host,
in host order, whose allocation (vCPUs and flavor memory) stays within
``(total - reserved) x allocation_ratio``. The flavor is what Placement
checks, never the load. An instance that fits on no host is not placed:
it is counted and listed in the report (Nova would fail its boot with
NoValidHost).
"""

import dataclasses
import math

import numpy as np

from nova_drs.model import cluster


@dataclasses.dataclass
class HostSpec:
    """What every simulated host looks like."""

    count: int
    vcpus: int = 8
    memory_mb: int = 65536
    reserved_host_memory_mb: int = 512
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.5
    #: disk and network bandwidth, MB/s; 0 = not tracked
    disk_mb_s: float = 0.0
    net_mb_s: float = 0.0

    @property
    def vcpu_limit(self):
        return self.vcpus * self.cpu_allocation_ratio

    @property
    def memory_limit(self):
        return ((self.memory_mb - self.reserved_host_memory_mb)
                * self.ram_allocation_ratio)

    def to_dict(self):
        return dataclasses.asdict(self)


def auto_host_count(vcpus, memory_mb, spec, spare=0.5):
    """Enough hosts for every instance when packed, plus ``spare``."""
    packed = max(float(np.sum(vcpus)) / spec.vcpu_limit,
                 float(np.sum(memory_mb)) / spec.memory_limit)
    return max(2, int(math.ceil(packed * (1.0 + spare))))


def build_hosts(spec):
    """The :class:`~nova_drs.model.cluster.Hosts` of ``spec``."""
    n = spec.count
    return cluster.Hosts(
        names=['host-%04d' % h for h in range(n)],
        vcpus=np.full(n, spec.vcpus, dtype=np.int64),
        memory_mb=np.full(n, spec.memory_mb, dtype=np.int64),
        reserved_host_cpus=np.zeros(n, dtype=np.int64),
        reserved_host_memory_mb=np.full(n, spec.reserved_host_memory_mb,
                                        dtype=np.int64),
        cpu_allocation_ratio=np.full(n, float(spec.cpu_allocation_ratio)),
        ram_allocation_ratio=np.full(n, float(spec.ram_allocation_ratio)),
        availability_zone=np.zeros(n, dtype=np.int64),
        aggregates=np.zeros(n, dtype=np.int64),
        disabled=np.zeros(n, dtype=bool),
        disk_capacity_mb_s=np.full(n, float(spec.disk_mb_s)),
        net_capacity_mb_s=np.full(n, float(spec.net_mb_s)))


def first_fit(vcpus, memory_mb, spec):
    """Host index per instance, in arrival order; -1 when none fits."""
    n_hosts = spec.count
    vcpu_limit = spec.vcpu_limit
    mem_limit = spec.memory_limit
    alloc_v = np.zeros(n_hosts)
    alloc_m = np.zeros(n_hosts)
    host = np.full(len(vcpus), -1, dtype=np.int64)
    # hosts before first_open are full: no instance fits there any more
    first_open = 0
    smallest_v = float(np.min(vcpus)) if len(vcpus) else 0.0
    for i in range(len(vcpus)):
        fit = np.flatnonzero(
            (alloc_v[first_open:] + vcpus[i] <= vcpu_limit + 1e-9)
            & (alloc_m[first_open:] + memory_mb[i] <= mem_limit + 1e-9))
        if fit.size == 0:
            continue
        h = first_open + int(fit[0])
        host[i] = h
        alloc_v[h] += vcpus[i]
        alloc_m[h] += memory_mb[i]
        while first_open < n_hosts and \
                alloc_v[first_open] + smallest_v > vcpu_limit + 1e-9:
            first_open += 1
    return host
