# SPDX-License-Identifier: Apache-2.0
"""Run the planning benchmark and check its targets.

*Scenarios.* Each cluster size is planned in several scenarios. Every
time step of the day is ranked by the share of hot hosts it gives a
500-host cluster built with the base seed; the scenarios are the steps at
the 50th, 75th and 90th percentile of that share (a typical, a busy and a
peak moment; never a quiet one, and never the single step that suits a
planner best), the k-th built with seed ``seed + k``. The figures of a
size are the sums over its scenarios; its planning time is the worst
scenario's median.

*Planners.* The production strategy and the greedy baseline
(:mod:`nova_drs.bench.greedy`) plan in a child process pinned to one core
(:mod:`nova_drs.bench.worker`), which also reports its peak RSS. Their
plans are scored here by :mod:`nova_drs.bench.evaluate`, and for the
optimum sizes compared with :mod:`nova_drs.bench.optimum`.

*Targets* (for the production strategy; a miss makes the bench fail):

* no capacity violation, new hotspot or step violation, in any scenario;
* at least 95% of the resolvable hotspots resolved, per size;
* at most half the greedy baseline's migrations and no more memory moved
  than it, per size;
* at 10,000 hosts, a planning process under 1 GiB peak RSS, and
  planning within 0.5 s of CPU (median of the runs, worst scenario);
* at 100,000 hosts (one million instances; ``--region``), a planning
  process within 2 GiB peak RSS, and planning within 10 s of CPU; a
  region is planned in the busiest scenario (p90) only, to keep the run
  within minutes.

Planning time is the planning process's CPU time (it is pinned to one
core), so that other load on the machine does not count against it,
divided by the machine-speed factor of that core
(:mod:`nova_drs.machine_speed`, its numpy reference timed between the
runs): a shared CI machine's speed varies from run to run, and within
minutes, by more than the targets' margin (1.6x for the same 10,000-host
plan). Both the measured time and the factor are printed.

The *growth ratio* is the planning time per host at the largest size
over that at 10,000 hosts: 1.0 is linear. Above 10,000 hosts the greedy
baseline is not run (it scans every host per move: hours at 100,000), so
the greedy targets apply up to 10,000 hosts.

* on the optimum sizes, within 1.05x of the proven optimum's migrations
  and memory moved (the optimum solves the same problem: relief to each
  threshold minus ``relief_margin``, else to the threshold; reported but
  not enforced when the MILP hit its time limit).
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np

from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.bench import cluster as bench_cluster
from nova_drs.bench import evaluate
from nova_drs.bench import greedy
from nova_drs.bench import optimum as optimum_mod
from nova_drs.bench import worker
from nova_drs import machine_speed
from nova_drs.simulator import traces

PERCENTILES = (50, 75, 90)
#: Hosts of the cluster on which the trace steps are ranked.
SELECTION_HOSTS = 500
LARGE = 10000
REGION = 100000
MIN_RESOLVED_SHARE = 0.95
MAX_MIGRATIONS_VS_GREEDY = 0.5
#: planning time on one core (issue 15's targets)
MAX_PLAN_S = 0.5
MAX_RSS_MIB = 1024.0
MAX_REGION_PLAN_S = 10.0
MAX_REGION_RSS_MIB = 2048.0
#: a region (a million instances to build, twice) is planned in the
#: busiest scenario only, unless --steps names the steps
REGION_SCENARIOS = ('p90',)
#: the plan's migrations and memory moved against the exact optimum of
#: the same problem (same relief margin), on the optimum sizes
MAX_VS_OPTIMUM = 1.05
#: trace steps each guest's recent slices are made of: the default
#: [drs_balancer] destination_peak_window (3600 s) of 300-s PlanetLab
#: samples (see nova_drs.bench.cluster)
RECENT_STEPS = 12
#: Plan limits lifted for the benchmark: one plan must be able to resolve
#: every hotspot of a 10,000-host cluster.
OVERRIDES = {'drs_balancer': {'max_migrations_per_plan': 100000}}


class BenchError(RuntimeError):
    """The benchmark could not run (the message says why)."""


@dataclasses.dataclass
class Settings:
    sizes: list
    optimum_sizes: list
    day: str
    day_dir: str
    seed: int = 0
    strategy: str = 'hotspot'
    runs: int = None                 # None: 5, 1 for a region
    steps: list = None               # None: PERCENTILES of mean CPU
    optimum_time_limit: float = 120.0
    config_files: list = dataclasses.field(default_factory=list)
    config_dirs: list = dataclasses.field(default_factory=list)

    def runs_for(self, hosts):
        if self.runs:
            return self.runs
        if hosts >= REGION:
            return 1
        # 5 at 10,000 hosts too: the median of 3 moved by 30 % between
        # identical runs on a shared machine
        return 5

    def greedy_runs_for(self, hosts):
        """The greedy baseline's runs at ``hosts``.

        Its plan is what is compared, its time is context only: one run
        from 10,000 hosts (3 s each), none above.
        """
        if hosts > LARGE:
            return 0
        if self.runs:
            return self.runs
        return 1 if hosts >= LARGE else 5


def step_hot_shares(trace, thresholds, seed, hosts=None):
    """Share of hot hosts at every trace step, on a selection cluster.

    The cluster has :data:`SELECTION_HOSTS` hosts and is built with
    ``seed``, as the benchmark clusters are.
    """
    hosts = hosts or SELECTION_HOSTS
    shares = np.empty(trace.shape[1])
    for step in range(trace.shape[1]):
        model, _ = bench_cluster.build(hosts, trace[:, step], seed=seed)
        shares[step] = evaluate.hot_hosts(model, thresholds).mean()
    return shares


def choose_steps(shares, steps=None):
    """Return [(step, label, hot share)] for the scenarios.

    By default the steps at :data:`PERCENTILES` of the hot-host share
    (ties broken by step number), else the given ``steps``.
    """
    if steps:
        return [(int(s), 'step', float(shares[s])) for s in steps]
    order = np.argsort(shares, kind='stable')
    chosen = []
    for p in PERCENTILES:
        step = int(order[int(round(p / 100.0 * (order.size - 1)))])
        chosen.append((step, 'p%d' % p, float(shares[step])))
    return chosen


def scenarios_for(hosts, steps):
    """[(k, step, label)] of the scenarios planned at ``hosts`` hosts.

    Every chosen step, the k-th built with seed + k; a region only in
    :data:`REGION_SCENARIOS` (steps given by number are all run).
    """
    return [(k, step, label) for k, (step, label, _share) in enumerate(steps)
            if hosts < REGION or label == 'step'
            or label in REGION_SCENARIOS]


def _to_migrations(rows):
    return [plan_mod.Migration(instance=r[0], source=r[1], target=r[2],
                               reason='', transfer_mb=r[3]) for r in rows]


def run_worker(job):
    """Run one job in a fresh single-threaded process; return its result."""
    env = dict(os.environ)
    env.update(worker.SINGLE_THREAD_ENV)
    # a fixed command line: this interpreter and a module of ours
    proc = subprocess.run(  # nosec B603
        [sys.executable, '-m', 'nova_drs.bench.worker'],
        input=json.dumps(job), capture_output=True, text=True, env=env,
        check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ['no message']
        raise BenchError('planning process for %d hosts failed (exit %d): '
                         '%s' % (job['hosts'], proc.returncode, tail[0]))
    return json.loads(proc.stdout)


def _one_cpu():
    if hasattr(os, 'sched_getaffinity'):
        return min(os.sched_getaffinity(0))
    return None


def _median(values):
    return float(np.median(values)) if values else 0.0


def run_scenario(settings, thresholds, hosts, trace, step, seed, label,
                 with_optimum, progress, cooldown_s=0.0, margin=0.0):
    """Plan one cluster with every planner and score the plans."""
    samples = trace[:, step]
    # live-like: every guest with the recent slices the balancer's view
    # would give it, so that reading them is part of the planning time
    recent = bench_cluster.recent_samples(trace, step, RECENT_STEPS)
    runs = settings.runs_for(hosts)
    progress('%d hosts, %s (step %d, seed %d): planning, %d run(s) per '
             'planner on one core' % (hosts, label, step, seed, runs))
    job = {'hosts': hosts, 'cpu_percent': samples.tolist(), 'seed': seed,
           'recent_percent': recent.tolist(),
           'strategy': settings.strategy, 'runs': runs,
           'greedy_runs': settings.greedy_runs_for(hosts),
           'config_files': settings.config_files,
           'config_dirs': settings.config_dirs, 'overrides': OVERRIDES,
           'cpu': _one_cpu()}
    out = run_worker(job)
    model, unplaced = bench_cluster.build(hosts, samples, seed=seed,
                                          recent_percent=recent)
    if (out['instances'] != len(model.instances)
            or out['fingerprint'] != worker.fingerprint(model)):
        raise BenchError('planning process built a different cluster')
    hot = evaluate.hot_hosts(model, thresholds)
    # the numpy reference: the one that follows the planner's speed
    # (nova_drs.machine_speed); the JSON one is kept for the record
    numpy_refs = out['numpy_reference_ms']
    factor = machine_speed.numpy_speed_factor(numpy_refs)
    result = {
        'hosts': hosts, 'label': label, 'step': step, 'seed': seed,
        'mean_cpu': round(float(samples.mean()), 3),
        'instances': len(model.instances),
        'unplaced': unplaced, 'hot_share': round(float(hot.mean()), 6),
        'rss_before_mib': (out['rss_before_kib'] or 0) / 1024.0,
        'rss_peak_mib': out['rss_peak_kib'] / 1024.0,
        'speed_factor': factor,
        'reference_ms': float(np.median(out['reference_ms'])),
        'numpy_reference_ms': float(np.median(numpy_refs)),
        'planners': {}, 'optimum': None}
    for name, key_m, key_t in ((settings.strategy, 'migrations', 'plan_s'),
                               (greedy.NAME, 'greedy_migrations',
                                'greedy_s')):
        if out.get(key_m) is None:
            continue             # greedy not run at this size
        try:
            s = evaluate.score(model, _to_migrations(out[key_m]),
                               thresholds)
        except evaluate.PlanError as e:
            raise BenchError('%s plan for %d hosts: %s' % (name, hosts, e))
        figures = s.to_dict()
        figures['plan_s'] = out[key_t]
        figures['plan_s_measured'] = _median(out[key_t])
        # judged on the machine's speed of the moment (see
        # nova_drs.machine_speed); both figures are printed
        figures['plan_s_median'] = figures['plan_s_measured'] / factor
        result['planners'][name] = figures
    if with_optimum:
        progress('%d hosts, %s: exact optimum (MILP, HiGHS, limit %gs)'
                 % (hosts, label, settings.optimum_time_limit))
        opt = optimum_mod.solve(model, thresholds,
                                time_limit=settings.optimum_time_limit,
                                cooldown_s=cooldown_s, margin=margin)
        check = evaluate.score(model, opt.migrations, thresholds)
        figures = opt.to_dict()
        figures['violations'] = check.violations + check.step_violations
        result['optimum'] = figures
    return result


_SUM_FIELDS = ('hot_before', 'resolvable', 'hot_after', 'resolved',
               'migrations', 'over_allocated', 'new_hotspots', 'violations',
               'step_violations', 'off_unresolvable')


def summarise(scenarios, strategy):
    """Aggregate the scenarios of one size."""
    summary = {}
    for name in (strategy, greedy.NAME):
        if any(name not in s['planners'] for s in scenarios):
            continue
        rows = [s['planners'][name] for s in scenarios]
        agg = {f: int(sum(r[f] for r in rows)) for f in _SUM_FIELDS}
        agg['moved_gib'] = float(sum(r['moved_gib'] for r in rows))
        agg['moved_gib_off_unresolvable'] = float(sum(
            r.get('moved_gib_off_unresolvable', 0.0) for r in rows))
        agg['resolved_share'] = (agg['resolved'] / agg['resolvable']
                                 if agg['resolvable'] else 1.0)
        # the worst scenario (normalised), with what was measured and
        # the factor it was divided by
        worst = max(range(len(rows)), key=lambda k: rows[k]['plan_s_median'])
        agg['plan_s'] = rows[worst]['plan_s_median']
        agg['plan_s_measured'] = rows[worst].get('plan_s_measured',
                                                 agg['plan_s'])
        agg['speed_factor'] = scenarios[worst].get('speed_factor', 1.0)
        agg['unresolved_resolvable'] = sum(
            (r['unresolved_resolvable'] for r in rows), [])
        summary[name] = agg
    summary['rss_peak_mib'] = max(s['rss_peak_mib'] for s in scenarios)
    opts = [s['optimum'] for s in scenarios if s['optimum']]
    if opts and len(opts) == len(scenarios):
        solved = all(o['status'] != 'no solution' for o in opts)
        agg = {'migrations': sum(o['migrations'] for o in opts),
               'moved_gib': float(sum(o['moved_gib'] for o in opts)),
               'resolvable': sum(o['resolvable'] for o in opts),
               'resolved': sum(o['resolved'] for o in opts),
               'solve_s': max(o['solve_s'] for o in opts),
               'violations': sum(o['violations'] for o in opts),
               'solved': solved,
               'proven': all(o['status'] == 'optimal' for o in opts),
               'migrations_bound': sum(o['migrations_bound'] for o in opts)}
        summary['optimum'] = agg
        for name in (strategy, greedy.NAME):
            planner = summary.get(name)
            if planner is not None and solved:
                # the optimum relieves resolvable hosts only: moves off
                # unresolvable ones (a saturated host brought under its
                # capacity) answer another question and are not compared
                planner['migrations_vs_optimum'] = _ratio(
                    _compared_migrations(planner), agg['migrations'])
                planner['gib_vs_optimum'] = _ratio(
                    _compared_gib(planner), agg['moved_gib'])
    return summary


def _compared_migrations(planner):
    """Migrations compared with the optimum's (off resolvable hosts)."""
    return planner['migrations'] - planner.get('off_unresolvable', 0)


def _compared_gib(planner):
    return planner['moved_gib'] - planner.get('moved_gib_off_unresolvable',
                                              0.0)


def _off_note(planner):
    off = planner.get('off_unresolvable', 0)
    return (' (%d more off unresolvable hosts, not compared)' % off
            if off else '')


def _ratio(value, reference):
    if reference > 0:
        return value / reference
    return 1.0 if value == 0 else float('inf')


@dataclasses.dataclass
class Target:
    name: str
    hosts: int
    value: str
    passed: bool
    enforced: bool = True

    def to_dict(self):
        return dataclasses.asdict(self)


def check_targets(sizes, strategy):
    """Return the list of :class:`Target` results for every size.

    :param sizes: [{'hosts': n, 'summary': summarise(...)}]
    """
    targets = []
    for entry in sizes:
        n, s = entry['hosts'], entry['summary']
        ours, base = s[strategy], s.get(greedy.NAME)
        bad = ours['violations'] + ours['step_violations']
        targets.append(Target(
            'no capacity violation or new hotspot', n,
            '%d over-allocated, %d new hotspots, %d step violations'
            % (ours['over_allocated'], ours['new_hotspots'],
               ours['step_violations']), bad == 0))
        targets.append(Target(
            '>= 95% of resolvable hotspots resolved', n,
            '%d of %d (%.1f%%)' % (ours['resolved'], ours['resolvable'],
                                   100.0 * ours['resolved_share']),
            ours['resolved_share'] >= MIN_RESOLVED_SHARE - 1e-12))
        if base is None:
            targets += _scale_targets(n, ours, s)
            continue
        targets.append(Target(
            '<= 0.5 x greedy migrations', n,
            '%d vs greedy %d (%s)' % (ours['migrations'], base['migrations'],
                                      _fmt_ratio(ours['migrations'],
                                                 base['migrations'])),
            ours['migrations']
            <= MAX_MIGRATIONS_VS_GREEDY * base['migrations'] + 1e-9))
        targets.append(Target(
            '<= greedy memory moved', n,
            '%.1f GiB vs greedy %.1f GiB (%s)' % (
                ours['moved_gib'], base['moved_gib'],
                _fmt_ratio(ours['moved_gib'], base['moved_gib'])),
            ours['moved_gib'] <= base['moved_gib'] + 1e-6))
        targets += _scale_targets(n, ours, s)
        if 'optimum' in s and not s['optimum'].get('solved', True):
            targets.append(Target(
                '(context) exact optimum', n,
                'no solution within the MILP time limit: no ratios',
                False, enforced=False))
        elif 'optimum' in s:
            opt = s['optimum']
            targets.append(Target(
                '(context) optimum <= 0.5 x greedy migrations', n,
                '%d vs greedy %d (%s): %s' % (
                    opt['migrations'], base['migrations'],
                    _fmt_ratio(opt['migrations'], base['migrations']),
                    'the greedy target is attainable' if
                    opt['migrations'] <= MAX_MIGRATIONS_VS_GREEDY
                    * base['migrations'] + 1e-9 else
                    'not even the optimum meets the greedy target'),
                opt['migrations'] <= MAX_MIGRATIONS_VS_GREEDY
                * base['migrations'] + 1e-9, enforced=False))
            # enforced against a proven optimum only: a time-limited
            # MILP's best may be far from the optimum
            proven = bool(opt['proven'])
            note = '' if proven else ' (optimum not proven: not enforced)'
            prefix = '' if proven else '(aim) '
            compared = _compared_migrations(ours)
            targets.append(Target(
                prefix + '<= 1.05 x optimum migrations', n,
                '%d vs %d (%s)%s%s' % (
                    compared, opt['migrations'],
                    _fmt_ratio(compared, opt['migrations']),
                    _off_note(ours), note),
                ours['migrations_vs_optimum'] <= MAX_VS_OPTIMUM + 1e-9,
                enforced=proven))
            gib = _compared_gib(ours)
            targets.append(Target(
                prefix + '<= 1.05 x optimum memory moved', n,
                '%.1f vs %.1f GiB (%s)%s' % (
                    gib, opt['moved_gib'],
                    _fmt_ratio(gib, opt['moved_gib']), note),
                ours['gib_vs_optimum'] <= MAX_VS_OPTIMUM + 1e-9,
                enforced=proven))
    return targets


def _scale_targets(n, ours, s):
    """Planning time and memory targets of one size."""
    if n == LARGE:
        return [Target('plan <= %g s CPU' % MAX_PLAN_S, n, _plan_time(ours),
                       ours['plan_s'] <= MAX_PLAN_S),
                Target('planning process < 1 GiB peak RSS', n,
                       '%.0f MiB' % s['rss_peak_mib'],
                       s['rss_peak_mib'] < MAX_RSS_MIB)]
    if n >= REGION:
        return [Target('plan <= %g s CPU' % MAX_REGION_PLAN_S, n,
                       _plan_time(ours),
                       ours['plan_s'] <= MAX_REGION_PLAN_S),
                Target('planning process <= 2 GiB peak RSS', n,
                       '%.0f MiB' % s['rss_peak_mib'],
                       s['rss_peak_mib'] <= MAX_REGION_RSS_MIB)]
    if n > LARGE:
        return [Target('(context) plan time on one core', n,
                       '%.3f s' % ours['plan_s'], True, enforced=False)]
    return []


def _plan_time(ours):
    """The judged planning time, and what was measured when it differs."""
    return machine_speed.judged_text(
        ours['plan_s'], ours.get('plan_s_measured', ours['plan_s']),
        ours.get('speed_factor', 1.0), digits=3)


def growth_ratio(sizes, strategy):
    """Time per host at the largest size over that at 10,000 hosts.

    None when the run has no size of 10,000 hosts or none larger.
    """
    by_size = {e['hosts']: e['summary'][strategy]['plan_s'] for e in sizes}
    large = [n for n in by_size if n > LARGE]
    if LARGE not in by_size or not large or by_size[LARGE] <= 0:
        return None
    top = max(large)
    return (by_size[top] / top) / (by_size[LARGE] / LARGE), top


def _fmt_ratio(value, reference):
    r = _ratio(value, reference)
    return 'x%.2f' % r if np.isfinite(r) else 'n/a'


def run(settings, thresholds, cooldown_s=0.0, progress=lambda msg: None,
        margin=0.0):
    """Run every size and scenario; return all figures as a dict."""
    progress('loading PlanetLab trace %s' % settings.day_dir)
    try:
        # the simulator's reader: the same checks, errors naming file and
        # line; the bench works in percent
        trace = traces.load_planetlab(settings.day_dir).cpu * 100.0
    except traces.TraceError as e:
        raise BenchError(str(e))
    if settings.steps:
        bad = [s for s in settings.steps if not 0 <= s < trace.shape[1]]
        if bad:
            raise BenchError('time step %d out of range: the trace has %d '
                             'steps (0-%d)' % (bad[0], trace.shape[1],
                                               trace.shape[1] - 1))
    if settings.steps:
        shares = np.full(trace.shape[1], np.nan)
    else:
        progress('ranking the %d trace steps by hot-host share (%d hosts, '
                 'seed %d)' % (trace.shape[1], SELECTION_HOSTS,
                               settings.seed))
        shares = step_hot_shares(trace, thresholds, settings.seed)
    steps = choose_steps(shares, settings.steps)
    all_sizes = sorted(set(settings.sizes) | set(settings.optimum_sizes))
    sizes = []
    for hosts in all_sizes:
        scenarios = []
        for k, step, label in scenarios_for(hosts, steps):
            scenarios.append(run_scenario(
                settings, thresholds, hosts, trace, step, settings.seed + k,
                label, hosts in settings.optimum_sizes, progress,
                cooldown_s=cooldown_s, margin=margin))
        sizes.append({'hosts': hosts, 'scenarios': scenarios,
                      'summary': summarise(scenarios, settings.strategy)})
    targets = check_targets(sizes, settings.strategy)
    growth = growth_ratio(sizes, settings.strategy)
    if growth is not None:
        targets.append(Target(
            '(context) growth ratio: time per host at %d / at %d'
            % (growth[1], LARGE), growth[1], '%.2f (1.00 = linear)'
            % growth[0], True, enforced=False))
    return {
        'settings': {
            'day': settings.day, 'trace_dir': settings.day_dir,
            'seed': settings.seed, 'strategy': settings.strategy,
            'sizes': list(settings.sizes),
            'optimum_sizes': list(settings.optimum_sizes),
            'runs': {str(n): settings.runs_for(n) for n in all_sizes},
            'selection_hosts': SELECTION_HOSTS,
            'steps': [{'step': s, 'label': lbl,
                       'selection_hot_share': (None if np.isnan(h)
                                               else round(h, 6))}
                      for s, lbl, h in steps],
            'thresholds': [float(t) for t in thresholds],
            'optimum_time_limit_s': settings.optimum_time_limit,
            'overrides': OVERRIDES},
        'sizes': sizes,
        'growth_ratio': None if growth is None else growth[0],
        'targets': [t.to_dict() for t in targets],
        'passed': all(t.passed for t in targets if t.enforced),
    }
