# SPDX-License-Identifier: Apache-2.0
"""Build benchmark clusters from PlanetLab CPU traces.

Hosts: 8 physical cores, 64 GiB, allocation ratios 4.0 (CPU) and 1.5
(RAM), 512 MiB reserved, as a typical overcommitted KVM compute node.
Instances: about ``per_host`` per host, flavors of 1-8 vCPUs with 2 or 4
GiB per vCPU, placed first-fit within the allocation ratios (so the first
hosts are full and some stay empty), in the order Nova would have received
them. CPU utilisation comes from a PlanetLab VM trace at one time step;
PlanetLab has no memory column, so memory in use follows a seeded model:
a base share of flavor memory drawn from Beta(2, 2) plus a part that grows
with the VM's CPU activity (busy guests touch more of their memory).

Recent slices, as the live balancer's host view gives the planner
(``[drs_balancer] destination_peak_window``): given the trace's samples
before the step (``recent_percent``), each instance carries its VM's
loads over them, one sample standing for the slices it covers (the
default 3600-s window is twelve 300-s PlanetLab samples, one of its
twelve slices each, the last one the load now), memory following the
same model. So the bench measures what reading them costs the planner,
and plans as the live balancer would.
"""

import numpy as np

from nova_drs.balancer.view import peaks
from nova_drs.model import cluster

HOST_VCPUS = 8
HOST_MEMORY_MB = 64 * 1024
RESERVED_MB = 512
CPU_RATIO = 4.0
RAM_RATIO = 1.5

FLAVOR_VCPUS = np.array([1, 2, 4, 8])
FLAVOR_P = np.array([0.40, 0.30, 0.20, 0.10])
MB_PER_VCPU = np.array([2048, 4096])
MB_PER_VCPU_P = np.array([0.7, 0.3])


def recent_samples(trace, step, count):
    """(VMs, ``count``) the trace's samples up to ``step``, oldest first.

    The first sample stands for the steps before the trace began.
    """
    return trace[:, np.clip(np.arange(step - count + 1, step + 1), 0, None)]


def build(n_hosts, cpu_percent, seed=0, per_host=10, recent_percent=None,
          fill=None):
    """Build a :class:`ClusterModel` of ``n_hosts`` hosts.

    :param cpu_percent: 1-D array of CPU utilisation samples (percent) to
        draw instance utilisation from, one per trace VM.
    :param recent_percent: None (no recent slices), or (VMs, k) the same
        VMs' samples of the last ``k`` steps, oldest first, the last one
        ``cpu_percent``: ``instances.recent_slices``; ``k`` divides
        :data:`~nova_drs.balancer.view.peaks.BUCKETS`.
    :param fill: None, or the share of the cluster's vCPU and flavor
        memory allocation room the instances may take: of the
        ``per_host`` x ``n_hosts`` drawn, only the first ones (in arrival
        order) within it are placed (a tight cluster; the same draws as
        without it)
    :returns: (model, number of instances that fitted nowhere).
    """
    rng = np.random.default_rng(seed)
    n_inst = n_hosts * per_host
    vcpus = rng.choice(FLAVOR_VCPUS, size=n_inst, p=FLAVOR_P)
    memory = vcpus * rng.choice(MB_PER_VCPU, size=n_inst, p=MB_PER_VCPU_P)
    cpu_percent = np.asarray(cpu_percent, dtype=float)
    # NOTE: the VM drawn, not its sample: the same random stream as
    # drawing the samples, and the VM's recent samples follow it
    vm = rng.choice(len(cpu_percent), size=n_inst)
    util = cpu_percent[vm] / 100.0
    base = 0.25 + 0.45 * rng.beta(2.0, 2.0, size=n_inst)
    mem_used = _memory_used(memory, base, util)

    vcpu_cap = HOST_VCPUS * CPU_RATIO
    mem_cap = (HOST_MEMORY_MB - RESERVED_MB) * RAM_RATIO
    if fill is not None:
        within = ((np.cumsum(vcpus) <= fill * n_hosts * vcpu_cap + 1e-9)
                  & (np.cumsum(memory) <= fill * n_hosts * mem_cap + 1e-9))
        n_inst = int(within.size if within.all() else np.argmin(within))
        vcpus, memory, vm, util, base, mem_used = (
            a[:n_inst] for a in (vcpus, memory, vm, util, base, mem_used))
    host = _first_fit(n_hosts, vcpus.tolist(), memory.tolist(), vcpu_cap,
                      mem_cap)
    placed = host >= 0
    n = int(placed.sum())

    hosts = cluster.Hosts(
        names=['host-%05d' % h for h in range(n_hosts)],
        vcpus=np.full(n_hosts, HOST_VCPUS, dtype=np.int64),
        memory_mb=np.full(n_hosts, HOST_MEMORY_MB, dtype=np.int64),
        reserved_host_cpus=np.zeros(n_hosts, dtype=np.int64),
        reserved_host_memory_mb=np.full(n_hosts, RESERVED_MB,
                                        dtype=np.int64),
        cpu_allocation_ratio=np.full(n_hosts, CPU_RATIO),
        ram_allocation_ratio=np.full(n_hosts, RAM_RATIO),
        availability_zone=np.zeros(n_hosts, dtype=np.int64),
        aggregates=np.zeros(n_hosts, dtype=np.int64),
        disabled=np.zeros(n_hosts, dtype=bool),
        disk_capacity_mb_s=np.zeros(n_hosts),
        net_capacity_mb_s=np.zeros(n_hosts))
    instances = cluster.Instances(
        names=['vm-%06d' % i for i in range(n)],
        host=host[placed],
        vcpus=vcpus[placed].astype(np.int64),
        memory_mb=memory[placed].astype(np.int64),
        cpu_util=util[placed],
        mem_used_mb=mem_used[placed].astype(float),
        disk_mb_s=np.zeros(n),
        net_mb_s=np.zeros(n),
        dirty_rate_mb_s=np.zeros(n),
        group=np.full(n, cluster.NO_GROUP, dtype=np.int64),
        opt_out=np.zeros(n, dtype=bool),
        last_migrated_s=np.full(n, np.inf))
    if recent_percent is not None:
        instances.recent_slices = _recent_slices(
            np.asarray(recent_percent, dtype=float)[vm[placed]],
            memory[placed], base[placed])
    return cluster.ClusterModel(hosts, instances), int(n_inst - n)


def _memory_used(memory, base, util):
    """MiB in use: a base share of the flavor plus a part with CPU."""
    return np.round(memory * np.clip(base + 0.3 * util, 0.05, 1.0))


def _recent_slices(percent, memory, base):
    """(instances, BUCKETS, 4) float32 slices of (instances, k) samples."""
    k = percent.shape[1]
    if not k or peaks.BUCKETS % k:
        raise ValueError('%d recent samples do not cut %d slices evenly'
                         % (k, peaks.BUCKETS))
    util = np.repeat(percent / 100.0, peaks.BUCKETS // k, axis=1)
    out = np.zeros(util.shape + (4,), dtype=np.float32)
    out[:, :, cluster.CPU] = util
    out[:, :, cluster.MEMORY] = _memory_used(memory[:, None],
                                             base[:, None], util)
    return out


def _first_fit(n_hosts, vcpus, memory, vcpu_cap, mem_cap):
    """Host of each instance, first fit in order (-1: fits nowhere).

    Hosts before ``first_open`` cannot take even the smallest flavor and
    hosts after ``last_used`` are empty, so only the few partly filled
    hosts between them are scanned: linear on 100,000-host clusters.
    """
    small_v = min(vcpus) if vcpus else 0
    small_m = min(memory) if memory else 0
    alloc_v = [0.0] * n_hosts
    alloc_m = [0.0] * n_hosts
    host = np.full(len(vcpus), -1, dtype=np.int64)
    first_open, last_used = 0, -1
    for i, (v, m) in enumerate(zip(vcpus, memory)):
        h = -1
        for k in range(first_open, n_hosts):
            if alloc_v[k] + v <= vcpu_cap and alloc_m[k] + m <= mem_cap:
                h = k
                break
            if k > last_used:
                # an empty host does not take it: no host will
                break
        if h < 0:
            continue
        host[i] = h
        last_used = max(last_used, h)
        alloc_v[h] += v
        alloc_m[h] += m
        while first_open < n_hosts and (
                alloc_v[first_open] + small_v > vcpu_cap
                or alloc_m[first_open] + small_m > mem_cap):
            first_open += 1
    return host
