# SPDX-License-Identifier: Apache-2.0
"""Tiny hand-built workloads and clusters for the simulator tests."""

import numpy as np

from nova_drs.simulator import engine
from nova_drs.simulator import placement
from nova_drs.simulator import workload as workload_mod
from tests.unit import clusters


def workload(vcpus, memory_mb, cpu, mem, interval_s=300.0, disk=None,
             net=None):
    """A :class:`Workload` of instances ``vm-0``, ``vm-1``...

    :param cpu: per instance, the physical cores used at each step.
    :param mem: per instance, the working set (MiB) at each step.
    """
    cpu = np.array(cpu, dtype=float)
    zeros = np.zeros_like(cpu)
    return workload_mod.Workload(
        names=['vm-%d' % i for i in range(len(vcpus))],
        vcpus=np.array(vcpus, dtype=np.int64),
        memory_mb=np.array(memory_mb, dtype=np.int64), cpu=cpu,
        mem=np.array(mem, dtype=float),
        disk=zeros if disk is None else np.array(disk, dtype=float),
        net=zeros if net is None else np.array(net, dtype=float),
        interval_s=interval_s, has_io=disk is not None)


def simulation(work, where, hosts=2, vcpus=4, memory_mb=10000,
               ram_ratio=1.5, conf=None, **options):
    """A :class:`Simulation` of ``work`` placed on hosts ``where``."""
    spec = placement.HostSpec(count=hosts, vcpus=vcpus,
                              memory_mb=memory_mb,
                              reserved_host_memory_mb=0,
                              ram_allocation_ratio=ram_ratio)
    # NOTE: each sample held for its own interval, so that the answers
    # can be worked out by hand (the interpolation has tests of its own)
    opts = dict(balloon=False, page_cache_growth=0.0,
                migration_cpu_overhead=0.5, interpolate=False)
    opts.update(options)
    return engine.Simulation(work, placement.build_hosts(spec), where,
                             conf or clusters.conf(),
                             engine.Options(**opts))
