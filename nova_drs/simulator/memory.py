# SPDX-License-Identifier: Apache-2.0
"""Seeded models for what a trace does not say: flavors, memory, dirty rate.

*Flavors* (PlanetLab only: Bitbrains gives cores and memory). vCPUs are
drawn from 1, 2, 4 and 8 with probabilities 0.4, 0.3, 0.2 and 0.1, memory
is 2 GiB (p 0.7) or 4 GiB (p 0.3) per vCPU: the mix of a general-purpose
OpenStack cloud, and the same as the planning benchmark's.

*Working set* (PlanetLab only: it has no memory column). For VM ``v`` at
step ``t``, as a share of its flavor memory::

    share = base_v + 0.3 x cpu_v(t) + noise_v(t), clipped to [0.05, 1]
    base_v ~ 0.2 + 0.4 x Beta(2, 2)           (mean 0.4)
    noise_v(t) = 0.9 x noise_v(t-1) + N(0, 0.02)   (AR(1))

A busy guest touches more memory (the ``0.3 x cpu`` part), the rest is
steady with a slow wander. Whole-day mean: about 45% of flavor memory.

*Dirty rate* (both traces): a guest dirties memory in proportion to its CPU
activity, :data:`DIRTY_MB_S_PER_CORE` MB/s per busy core, at most
:data:`DIRTY_MB_S_MAX` MB/s per guest (writing more distinct pages a
second is exceptional: Clark et al., "Live Migration of Virtual
Machines", NSDI 2005, measured tens of MB/s for web and game servers and
needed a synthetic workload for 512 MB/s; the cap bounds Bitbrains'
32-core VMs, 640 MB/s uncapped). The planner's migration cost model
(:mod:`nova_drs.balancer.planning.cost`, through the cluster model) and the
simulated pre-copy rounds (:mod:`.precopy`) use the same rate.

Every draw comes from its own stream of ``numpy.random.SeedSequence(seed)``
so a run is reproducible for a seed.
"""

import numpy as np

FLAVOR_VCPUS = np.array([1, 2, 4, 8])
FLAVOR_P = np.array([0.40, 0.30, 0.20, 0.10])
MB_PER_VCPU = np.array([2048, 4096])
MB_PER_VCPU_P = np.array([0.7, 0.3])

BASE_MIN = 0.2
BASE_SPAN = 0.4
CPU_SHARE = 0.3
NOISE_PHI = 0.9
NOISE_SD = 0.02
MIN_SHARE = 0.05

#: MB/s of memory dirtied per busy physical core.
DIRTY_MB_S_PER_CORE = 20.0
#: MB/s of memory one guest dirties at most.
DIRTY_MB_S_MAX = 256.0


def flavors(n, rng):
    """(vcpus, memory_mb) arrays for ``n`` VMs."""
    vcpus = rng.choice(FLAVOR_VCPUS, size=n, p=FLAVOR_P)
    memory = vcpus * rng.choice(MB_PER_VCPU, size=n, p=MB_PER_VCPU_P)
    return vcpus.astype(np.int64), memory.astype(np.int64)


def working_set(cpu, memory_mb, rng):
    """Memory in use, MiB, shape of ``cpu`` (VMs, steps).

    :param cpu: utilisation, a share 0-1 of each VM's vCPUs.
    """
    n, steps = cpu.shape
    base = BASE_MIN + BASE_SPAN * rng.beta(2.0, 2.0, size=n)
    shocks = rng.normal(0.0, NOISE_SD, size=(n, steps))
    noise = np.empty((n, steps))
    # start from the stationary distribution of the AR(1) process
    noise[:, 0] = shocks[:, 0] / np.sqrt(1.0 - NOISE_PHI ** 2)
    for t in range(1, steps):
        noise[:, t] = NOISE_PHI * noise[:, t - 1] + shocks[:, t]
    share = np.clip(base[:, None] + CPU_SHARE * cpu + noise, MIN_SHARE, 1.0)
    return np.round(share * memory_mb[:, None])


def dirty_rate(cpu_cores):
    """MB/s dirtied by guests using ``cpu_cores`` physical cores."""
    return np.minimum(DIRTY_MB_S_PER_CORE
                      * np.asarray(cpu_cores, dtype=float), DIRTY_MB_S_MAX)
