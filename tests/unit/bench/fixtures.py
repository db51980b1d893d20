# SPDX-License-Identifier: Apache-2.0
"""Tiny clusters built straight from numpy arrays for the bench tests.

Hosts have 10 cores and 10,000 MiB, nothing reserved, ratios 4.0 and 1.5
(so 40 vCPUs and 15,000 MiB of flavors fit); with the default thresholds
a host is hot above 8.5 busy cores or 9,000 MiB in use.
"""

import numpy as np

from nova_drs.model import cluster

THRESHOLDS = np.array([0.85, 0.90, 0.90, 0.90])


def vm(host, vcpus=1, util=0.5, mem=500, flavor_mb=None):
    """One instance: host index, vCPUs, CPU utilisation 0-1, MiB in use."""
    return {'host': host, 'vcpus': vcpus, 'util': util, 'mem': mem,
            'flavor_mb': flavor_mb if flavor_mb is not None else mem}


def model(n_hosts, vms, vcpus=10, memory_mb=10000, disabled=()):
    n = len(vms)
    hosts = cluster.Hosts(
        names=['h%d' % h for h in range(n_hosts)],
        vcpus=np.full(n_hosts, vcpus, dtype=np.int64),
        memory_mb=np.full(n_hosts, memory_mb, dtype=np.int64),
        reserved_host_cpus=np.zeros(n_hosts, dtype=np.int64),
        reserved_host_memory_mb=np.zeros(n_hosts, dtype=np.int64),
        cpu_allocation_ratio=np.full(n_hosts, 4.0),
        ram_allocation_ratio=np.full(n_hosts, 1.5),
        availability_zone=np.zeros(n_hosts, dtype=np.int64),
        aggregates=np.zeros(n_hosts, dtype=np.int64),
        disabled=np.isin(np.arange(n_hosts), list(disabled)),
        disk_capacity_mb_s=np.zeros(n_hosts),
        net_capacity_mb_s=np.zeros(n_hosts))
    instances = cluster.Instances(
        names=['vm%d' % i for i in range(n)],
        host=np.array([v['host'] for v in vms], dtype=np.int64),
        vcpus=np.array([v['vcpus'] for v in vms], dtype=np.int64),
        memory_mb=np.array([v['flavor_mb'] for v in vms], dtype=np.int64),
        cpu_util=np.array([v['util'] for v in vms], dtype=float),
        mem_used_mb=np.array([v['mem'] for v in vms], dtype=float),
        disk_mb_s=np.zeros(n),
        net_mb_s=np.zeros(n),
        dirty_rate_mb_s=np.zeros(n),
        group=np.full(n, cluster.NO_GROUP, dtype=np.int64),
        opt_out=np.zeros(n, dtype=bool),
        last_migrated_s=np.full(n, np.inf))
    return cluster.ClusterModel(hosts, instances)


def moves(plan):
    """{instance: (source, target)} of a plan."""
    return {m.instance: (m.source, m.target) for m in plan.migrations}
