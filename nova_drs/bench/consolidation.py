# SPDX-License-Identifier: Apache-2.0
"""Consolidation benchmark: ``consolidate`` against a first-fit repack.

``python -m nova_drs.bench.consolidation [--trace-dir DIR]``

For each PlanetLab day and cluster size, a cluster of 8-core / 64 GiB
hosts (ratios 4.0 / 1.5, flavors as :mod:`nova_drs.bench.cluster`) whose
guests were spread by the Nova scheduler (each to the host with the
least flavor memory allocated, the default RAM weigher), each guest
following one VM of the day's trace. At the day's quietest hour (least
CPU demand) the ``consolidate`` strategy plans with each guest's peak
over the preceding ``--window-h`` hours (the day taken as cyclic, as the
balancer's peak tracker would have seen it on the day before) and the
comfort level of ``[drs_balancer] destination_headroom``, after the
``hotspot`` strategy relieved the hour's hotspots (consolidation never
runs while one is open; a row where one is left is reported blocked).

Figures, per row: active hosts before, hosts the plan frees, hosts a
first-fit-decreasing repack of the same guests frees under the same
peaks, comfort level and allocation limits (it may move every guest:
the bound a move-everything packer reaches), migrations and GiB moved,
planning time, and the host-steps hot over the next ``--horizon-h``
hours that were not hot without the plan (hotspots created).

Targets (exit 1 on a miss): freed >= 90 % of the repack's, and no
hotspot created.
"""

import argparse
import os
import sys
import time

import numpy as np

from nova_drs.balancer.strategies import consolidate
from nova_drs.balancer.strategies import hotspot
from nova_drs.balancer.view import peaks
from nova_drs.bench import cluster as bench_cluster
from nova_drs import config
from nova_drs.model import cluster
from nova_drs.simulator import traces

DAYS = ('20110303', '20110325', '20110409')
SIZES = (150, 200)
PER_HOST = 5
STEP_S = 300
TARGET_RATIO = 0.90
TARGET_CREATED = 0


def _conf(window_h):
    conf = config.load(conf=None, default_files=False)
    # a plan may empty every host it can: the executor paces the moves
    conf.set_override('max_migrations_per_plan', 100000, 'drs_balancer')
    conf.set_override('max_migrations_per_source_host', 0, 'drs_balancer')
    conf.set_override('max_migrations_per_destination_host', 0,
                      'drs_balancer')
    conf.set_override('consolidation_peak_window', int(window_h * 3600),
                      'drs_balancer')
    return conf


def memory_share(base, util):
    """Memory in use as a share of flavor memory (bench.cluster's model)."""
    return np.clip(base + 0.3 * util, 0.05, 1.0)


def spread_cluster(n_hosts, n_vms, seed):
    """(model, trace row per instance, memory base share per instance)."""
    rng = np.random.default_rng(seed)
    n_inst = n_hosts * PER_HOST
    vcpus = rng.choice(bench_cluster.FLAVOR_VCPUS, size=n_inst,
                       p=bench_cluster.FLAVOR_P)
    memory = vcpus * rng.choice(bench_cluster.MB_PER_VCPU, size=n_inst,
                                p=bench_cluster.MB_PER_VCPU_P)
    rows = rng.integers(0, n_vms, size=n_inst)
    base = 0.25 + 0.45 * rng.beta(2.0, 2.0, size=n_inst)
    vcpu_cap = bench_cluster.HOST_VCPUS * bench_cluster.CPU_RATIO
    mem_cap = ((bench_cluster.HOST_MEMORY_MB - bench_cluster.RESERVED_MB)
               * bench_cluster.RAM_RATIO)
    alloc_v = np.zeros(n_hosts)
    alloc_m = np.zeros(n_hosts)
    host = np.full(n_inst, -1, dtype=np.int64)
    for i in range(n_inst):
        ok = ((alloc_v + vcpus[i] <= vcpu_cap)
              & (alloc_m + memory[i] <= mem_cap))
        if not ok.any():
            continue
        h = int(np.flatnonzero(ok)[np.argmin(alloc_m[ok])])
        host[i] = h
        alloc_v[h] += vcpus[i]
        alloc_m[h] += memory[i]
    placed = host >= 0
    model, _ = bench_cluster.build(n_hosts, [0.0], seed=seed, per_host=0)
    n = int(placed.sum())
    model.instances = cluster.Instances(
        names=['vm-%06d' % i for i in range(n)],
        host=host[placed], vcpus=vcpus[placed].astype(np.int64),
        memory_mb=memory[placed].astype(np.int64),
        cpu_util=np.zeros(n), mem_used_mb=np.zeros(n),
        disk_mb_s=np.zeros(n), net_mb_s=np.zeros(n),
        dirty_rate_mb_s=np.zeros(n),
        group=np.full(n, cluster.NO_GROUP, dtype=np.int64),
        opt_out=np.zeros(n, dtype=bool),
        last_migrated_s=np.full(n, np.inf))
    model.instance_index = {name: i for i, name in
                            enumerate(model.instances.names)}
    return model, rows[placed], base[placed]


def quiet_step(demand):
    """Last step of the hour with the least total CPU demand."""
    per_hour = 3600 // STEP_S
    hours = demand.size // per_hour
    totals = demand[:hours * per_hour].reshape(hours, per_hour).sum(axis=1)
    return int(np.argmin(totals)) * per_hour + per_hour - 1


def cyclic(series, start, length):
    """Columns ``start .. start + length - 1`` of a day, wrapped."""
    idx = np.arange(start, start + length) % series.shape[1]
    return series[:, idx]


def ffd_bins(model, profile, comfort, alloc_limit):
    """Hosts a first-fit-decreasing repack of every guest needs.

    Each guest needs its peak CPU and memory in every slice of the
    window (the same rule as ``consolidate``) and its flavor's vCPUs and
    memory; the largest first (largest share of a host), each into the
    first host where it fits.
    """
    cap = model.capacity()[0]
    limit = np.array([cap[0] * comfort[0], cap[1] * comfort[1]])
    alloc = model.instance_allocation()
    slices = profile.shape[1]
    # one row per guest: its CPU and memory per slice, then allocation
    need = np.concatenate([profile[:, :, 0], profile[:, :, 1],
                           alloc[:, :1], alloc[:, 1:2]], axis=1)
    room = np.concatenate([np.full(slices, limit[0]),
                           np.full(slices, limit[1]),
                           alloc_limit[:1], alloc_limit[1:2]])
    size = (need / room).max(axis=1)
    bins = np.zeros((len(model.instances), need.shape[1]))
    used = 0
    for i in np.argsort(-size, kind='stable'):
        fits = np.flatnonzero((bins[:used] + need[i] <= room + 1e-9)
                              .all(axis=1))
        if fits.size:
            bins[fits[0]] += need[i]
        else:
            bins[used] = need[i]
            used += 1
    return used


def hot_host_steps(model, hosts, util, base, thresholds):
    """(hosts, steps) bool: CPU or memory load above a threshold."""
    inst = model.instances
    cpu = inst.vcpus[:, None] * util
    mem = inst.memory_mb[:, None] * memory_share(base[:, None], util)
    n = len(model.hosts)
    cap = model.capacity()[0]
    out = np.zeros((n, util.shape[1]), dtype=bool)
    for t in range(util.shape[1]):
        hc = np.bincount(hosts, weights=cpu[:, t], minlength=n) / cap[0]
        hm = np.bincount(hosts, weights=mem[:, t], minlength=n) / cap[1]
        out[:, t] = (hc > thresholds[0]) | (hm > thresholds[1])
    return out


def run_case(trace, day, n_hosts, conf, window_h, horizon_h, seed=0):
    model, rows, base = spread_cluster(n_hosts, trace.cpu.shape[0], seed)
    inst = model.instances
    util_day = trace.cpu[rows]                      # (instances, steps)
    demand = (inst.vcpus[:, None] * util_day).sum(axis=0)
    t_q = quiet_step(demand)
    per_hour = 3600 // STEP_S
    window = cyclic(util_day, t_q - window_h * per_hour + 1,
                    window_h * per_hour)
    util_now = util_day[:, t_q]
    inst.cpu_util = util_now.copy()
    inst.mem_used_mb = inst.memory_mb * memory_share(base, util_now)
    # the peak tracker's slices: the same slice of absolute time for
    # every guest (peaks.BUCKETS of them over the window)
    steps = np.arange(t_q - window_h * per_hour + 1, t_q + 1)
    slice_of = (steps * peaks.BUCKETS // (window_h * per_hour)) \
        % peaks.BUCKETS
    util_slices = np.full((len(inst), peaks.BUCKETS), np.nan)
    for k in range(peaks.BUCKETS):
        cols = slice_of == k
        if cols.any():
            util_slices[:, k] = window[:, cols].max(axis=1)
    inst.peak_slices = np.full((len(inst), peaks.BUCKETS, 4), np.nan)
    inst.peak_slices[:, :, 0] = util_slices
    inst.peak_slices[:, :, 1] = (inst.memory_mb[:, None]
                                 * memory_share(base[:, None], util_slices))
    inst.peak = np.fmax.reduce(inst.peak_slices, axis=1)
    # the balancer relieves the hotspots of the hour first: consolidation
    # never runs while one is open
    relief = hotspot.HotspotStrategy(conf).plan(model)
    for m in relief.migrations:
        inst.host[model.instance_index[m.instance]] = \
            model.host_index[m.target]
    strategy = consolidate.ConsolidateStrategy(conf)
    strategy.name = 'consolidate'
    active = int(np.unique(inst.host).size)
    started = time.perf_counter()
    plan = strategy.plan(model)
    plan_s = time.perf_counter() - started
    thresholds = cluster.thresholds_from_conf(conf)
    blocked, stuck = consolidate.hotspots(model, thresholds, conf)

    after = inst.host.copy()
    for m in plan.migrations:
        after[model.instance_index[m.instance]] = model.host_index[m.target]
    freed = active - int(np.unique(after).size)
    gap = consolidate.comfort_gap(conf)
    comfort = np.maximum(thresholds - gap, 0.0)
    alloc_limit = model.allocation_limit()[0]
    bins = ffd_bins(model, consolidate.peak_profile(model), comfort,
                    alloc_limit)
    ffd_freed = active - bins

    future = cyclic(util_day, t_q + 1, horizon_h * per_hour)
    hot_before = hot_host_steps(model, inst.host, future, base, thresholds)
    hot_after = hot_host_steps(model, after, future, base, thresholds)
    created = int((hot_after & ~hot_before).sum())
    return {
        'day': day, 'hosts': n_hosts, 'instances': len(inst),
        'quiet_hour': t_q // per_hour, 'active': active, 'freed': freed,
        'ffd_freed': ffd_freed,
        # None: the repack frees no host (it needs at least the active
        # hosts to bring every guest under the comfort level), so there
        # is nothing to compare with, and nothing to miss
        'ratio': freed / ffd_freed if ffd_freed > 0 else None,
        'migrations': len(plan.migrations),
        'gib_moved': sum(m.transfer_mb for m in plan.migrations) / 1024.0,
        'plan_s': plan_s, 'created': created,
        'listed_freed': len(plan.freed), 'blocked': blocked,
        'relief_moves': len(relief.migrations), 'stuck': len(stuck),
    }


def trace_root(given):
    # NOTE: no default place: the traces are the operator's download
    # (doc/source/simulator.rst, "Traces")
    for root in ([given] if given else []) + [
            os.environ.get('NOVA_DRS_TRACE_DIR') or '']:
        if root and os.path.isdir(os.path.join(root, 'planetlab')):
            return os.path.join(root, 'planetlab')
        if root and os.path.isdir(root) and os.path.basename(
                os.path.normpath(root)) == 'planetlab':
            return root
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m nova_drs.bench.consolidation',
        description=__doc__.split('\n\n')[0])
    parser.add_argument('--trace-dir', help='traces root or planetlab/')
    parser.add_argument('--days', default=','.join(DAYS))
    parser.add_argument('--sizes', default=','.join(map(str, SIZES)))
    parser.add_argument('--window-h', type=int, default=24,
                        help='peak window, hours (default 24, as '
                             '[drs_balancer] consolidation_peak_window)')
    parser.add_argument('--horizon-h', type=int, default=6,
                        help='hours after the plan checked for hotspots')
    args = parser.parse_args(argv)
    root = trace_root(args.trace_dir)
    if root is None:
        print('no PlanetLab traces found (--trace-dir)', file=sys.stderr)
        return 2
    try:
        sizes = [int(s) for s in args.sizes.split(',') if s.strip()]
    except ValueError:
        print('--sizes: expected e.g. 150,200', file=sys.stderr)
        return 2
    if not 1 <= args.window_h <= 24 or not 1 <= args.horizon_h <= 24:
        print('--window-h and --horizon-h: 1-24 hours', file=sys.stderr)
        return 2
    conf = _conf(args.window_h)
    rows = []
    for day in [d.strip() for d in args.days.split(',') if d.strip()]:
        try:
            trace = traces.load_planetlab(os.path.join(root, day))
        except traces.TraceError as e:
            print(str(e), file=sys.stderr)
            return 2
        for n in sizes:
            rows.append(run_case(trace, day, n, conf, args.window_h,
                                 args.horizon_h))
    gap = consolidate.comfort_gap(conf)
    print('consolidate vs first-fit-decreasing repack (comfort: threshold '
          '- %.2f, memory - %.2f, peaks over %d h, hotspots checked over '
          'the next %d h)' % (gap[cluster.CPU], gap[cluster.MEMORY],
                              args.window_h, args.horizon_h))
    head = ('day', 'hosts', 'vms', 'quiet h', 'relief', 'stuck', 'active',
            'freed', 'ffd freed', 'ratio', 'moves', 'GiB', 'plan s',
            'created')
    print('%-9s %5s %5s %7s %6s %5s %6s %5s %9s %6s %5s %7s %7s %7s'
          % head)
    missed = []
    for r in rows:
        ratio = '-' if r['ratio'] is None else '%.2f' % r['ratio']
        print('%-9s %5d %5d %7d %6d %5d %6d %5d %9d %6s %5d %7.1f %7.3f '
              '%7d' % (r['day'], r['hosts'], r['instances'],
                       r['quiet_hour'], r['relief_moves'], r['stuck'],
                       r['active'], r['freed'], r['ffd_freed'], ratio,
                       r['migrations'], r['gib_moved'], r['plan_s'],
                       r['created']))
        if r['blocked']:
            missed.append('%s/%d: a hotspot is left open: no consolidation'
                          % (r['day'], r['hosts']))
        elif r['ratio'] is not None and r['ratio'] < TARGET_RATIO:
            missed.append('%s/%d: freed %d < %.0f%% of the repack\'s %d'
                          % (r['day'], r['hosts'], r['freed'],
                             TARGET_RATIO * 100, r['ffd_freed']))
        if r['created'] > TARGET_CREATED:
            missed.append('%s/%d: %d hotspot host-step(s) created'
                          % (r['day'], r['hosts'], r['created']))
        if r['listed_freed'] != r['freed']:
            missed.append('%s/%d: the plan lists %d freed hosts, %d are '
                          'empty after it' % (r['day'], r['hosts'],
                                              r['listed_freed'], r['freed']))
    if missed:
        print('TARGETS MISSED:\n  ' + '\n  '.join(missed))
        return 1
    print('targets met: freed >= %.0f%% of the repack, %d hotspots created'
          ' (ratio "-": the repack frees no host, nothing to compare)'
          % (TARGET_RATIO * 100, TARGET_CREATED))
    return 0


if __name__ == '__main__':
    sys.exit(main())
