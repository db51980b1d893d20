# SPDX-License-Identifier: Apache-2.0
"""Turn a trace into instances: flavors and demand per step.

Instances are numbered in the order Nova receives them, a seeded shuffle
of the trace's VMs (the trace's file order says nothing about when the VMs
were booted). What the trace lacks comes from :mod:`.memory`.
"""

import dataclasses

import numpy as np

from nova_drs.simulator import memory


@dataclasses.dataclass
class Workload:
    """Instances and their demand, one row per instance."""

    names: list
    vcpus: np.ndarray
    memory_mb: np.ndarray
    #: (instances, steps) physical cores used: vCPUs x utilisation
    cpu: np.ndarray
    #: (instances, steps) working set, MiB (at most the flavor memory)
    mem: np.ndarray
    #: (instances, steps) disk throughput, MB/s (zeros when not traced)
    disk: np.ndarray
    #: (instances, steps) network throughput, MB/s (zeros when not traced)
    net: np.ndarray
    interval_s: float
    #: the trace has disk and network columns
    has_io: bool = False

    @property
    def steps(self):
        return self.cpu.shape[1]

    def __len__(self):
        return len(self.names)

    def dirty_rate(self, step):
        """MB/s each instance dirties at ``step``."""
        return memory.dirty_rate(self.cpu[:, step])

    def subset(self, keep):
        """The instances selected by the boolean or index array ``keep``."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool \
            else np.asarray(keep)
        return dataclasses.replace(
            self, names=[self.names[i] for i in idx],
            vcpus=self.vcpus[idx], memory_mb=self.memory_mb[idx],
            cpu=self.cpu[idx], mem=self.mem[idx], disk=self.disk[idx],
            net=self.net[idx])


def instance_name(name):
    return name[:-4] if name.endswith('.csv') else name


def from_trace(trace, seed=0):
    """Build the :class:`Workload` of ``trace`` for ``seed``."""
    flavor_ss, memory_ss, order_ss = np.random.SeedSequence(seed).spawn(3)
    n = len(trace)
    if trace.vcpus is None or trace.memory_mb is None:
        vcpus, memory_mb = memory.flavors(
            n, np.random.default_rng(flavor_ss))
    else:
        vcpus = np.asarray(trace.vcpus, dtype=np.int64)
        memory_mb = np.asarray(trace.memory_mb, dtype=np.int64)
    if trace.mem_used_mb is None:
        mem = memory.working_set(trace.cpu, memory_mb,
                                 np.random.default_rng(memory_ss))
    else:
        mem = np.minimum(trace.mem_used_mb, memory_mb[:, None])
    has_io = trace.disk_mb_s is not None or trace.net_mb_s is not None
    zeros = np.zeros_like(trace.cpu)
    disk = zeros if trace.disk_mb_s is None else trace.disk_mb_s
    net = zeros if trace.net_mb_s is None else trace.net_mb_s
    order = np.random.default_rng(order_ss).permutation(n)
    workload = Workload(
        names=[instance_name(v) for v in trace.names], vcpus=vcpus,
        memory_mb=memory_mb, cpu=np.clip(trace.cpu, 0.0, 1.0)
        * vcpus[:, None], mem=np.asarray(mem, dtype=float),
        disk=np.asarray(disk, dtype=float), net=np.asarray(net, dtype=float),
        interval_s=float(trace.interval_s), has_io=has_io)
    return workload.subset(order)


def map_traces(instance_names, n_traces, seed=0):
    """Which trace each instance replays: the documented mapping rule.

    Instances are taken in the order of their names (so that the mapping
    does not depend on the order an exporter listed them in) and each
    draws a trace without replacement from a seeded shuffle of the
    trace's VMs; once every VM is drawn, a new shuffle starts. With more
    instances than trace VMs, every VM is replayed by
    ``floor(instances / VMs)`` or one more instances; with fewer, the
    instances replay distinct VMs.

    :returns: an index into the trace's VMs per instance, in the order of
        ``instance_names``.
    """
    if n_traces < 1:
        raise ValueError('no trace to map instances onto')
    n = len(instance_names)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    passes = -(-n // n_traces)
    drawn = np.concatenate([rng.permutation(n_traces)
                            for _ in range(passes)])[:n] if n else \
        np.zeros(0, dtype=np.int64)
    by_name = sorted(range(n), key=lambda i: instance_names[i])
    out = np.empty(n, dtype=np.int64)
    out[by_name] = drawn
    return out


def from_instances(trace, names, vcpus, memory_mb, seed=0):
    """The :class:`Workload` of given instances replaying ``trace``.

    The instances (a snapshot's) keep their names, flavors and order;
    each replays the trace VM :func:`map_traces` picks for it:

    * CPU: the VM's utilisation, a share of its vCPUs, times the
      instance's vCPUs;
    * memory in use: the VM's, as a share of the VM's flavor memory,
      times the instance's flavor memory (Bitbrains); the seeded working
      set model of :mod:`.memory` for the instance's flavor where the
      trace has no memory (PlanetLab);
    * disk and network: the VM's throughput, unscaled (a flavor says
      nothing about them).

    :returns: ``(workload, trace VM index per instance)``
    """
    vcpus = np.asarray(vcpus, dtype=np.int64)
    memory_mb = np.asarray(memory_mb, dtype=np.int64)
    pick = map_traces(names, len(trace), seed)
    _mapping_ss, memory_ss, _unused = np.random.SeedSequence(seed).spawn(3)
    cpu = np.clip(trace.cpu[pick], 0.0, 1.0)
    if trace.mem_used_mb is None:
        mem = memory.working_set(cpu, memory_mb,
                                 np.random.default_rng(memory_ss))
    else:
        share = trace.mem_used_mb[pick] / np.maximum(
            np.asarray(trace.memory_mb, dtype=float)[pick], 1.0)[:, None]
        mem = np.minimum(share, 1.0) * memory_mb[:, None]
    has_io = trace.disk_mb_s is not None or trace.net_mb_s is not None
    zeros = np.zeros_like(cpu)
    disk = zeros if trace.disk_mb_s is None else trace.disk_mb_s[pick]
    net = zeros if trace.net_mb_s is None else trace.net_mb_s[pick]
    return Workload(
        names=list(names), vcpus=vcpus, memory_mb=memory_mb,
        cpu=cpu * vcpus[:, None], mem=np.asarray(mem, dtype=float),
        disk=np.asarray(disk, dtype=float), net=np.asarray(net, dtype=float),
        interval_s=float(trace.interval_s), has_io=has_io), pick
