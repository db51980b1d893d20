# SPDX-License-Identifier: Apache-2.0
"""Packing benchmark: ``hotspot`` with ``pack`` against ``spread``.

Replays PlanetLab days on clusters of a few sizes with three runs each,
from the same first-fit placement: ``none`` (no balancing), ``hotspot``
with ``[drs_balancer] destination_policy = pack`` and with ``spread``.
No balancing starts first-fit, so its active hosts are full by
allocation: relief must open some hosts, and the destination policy
decides how many. Balloon off: the figures are the planner's. SLATAH
here is the literature's, CPU only (``cpu_overload_time_fraction``):
with the balloon off, first-fit hosts full by allocation swap much of
the day (``swap %``, shown beside it), which would make any relief look
like a cut of SLATAH.

Targets, per day and size. Those of issue 15 are the *aims*; an aim not
met yet is printed ``MISSED`` and does not change the exit code, and a
looser *guard* below it fails the run (exit code 1) so that what has been
reached cannot silently regress:

* ``pack`` cuts the hotspot host-time and SLATAH by at least 80 %
  against ``none`` (enforced);
* ``pack`` uses at least 30 % fewer mean active hosts and 20 % less energy
  (linear power model, empty hosts off) than ``spread`` (aims; guards
  15 % and 15 %);
* with ``pack``, relieved hosts hot again within five minutes
  at most 5 %, destinations at most 2 % (enforced).

The runs above have agents at the trace's 300-s step, where the planner
sees a host only when a new sample lands. Production agents report every
10-60 s and see a host cross its threshold on a ramp that goes on, so
the re-trigger targets are also judged with agents every
:data:`AGENT_INTERVAL_S`, the agent's default interval (``pack`` only,
each day at the smallest size, enforced): relieved hosts hot again at
most 5 %, destinations at most 2 % less those hot again running a lone
guest above a threshold on its own (no destination choice avoids them:
:func:`check_agent_interval`).

A cluster too small for a day (20110403 on 150 hosts: its guests' CPU
or memory demand needs more hosts than it has under the thresholds at
84 of 288 samples) has hosts hot at those samples whatever the
placement, ``spread``'s as ``pack``'s (30 % of the host-time both). The
hotspot cut is then judged on the other samples (:func:`holdable`:
49.30 % -> 6.82 %, -86 %, there), the whole day's figures printed
beside it.

An aim that no placement can reach on a day and size is printed
``INFEASIBLE`` with the lower bound that proves it (:func:`lower_bound`);
so is a guard no placement can reach (a cluster so tight that every
placement needs nearly every host, e.g. 20110409 on 150 hosts: at least
124.7 of them, where ``spread`` uses 144.8), which then fails nothing.
The active-host and energy rows also print the same bound at the
destinations' comfort level (:func:`comfort_levels`: each threshold less
its destination headroom), the fewest hosts a placement keeping every
host there could have: how far ``pack`` is from what its own safety rule
allows. Measured (2026-12-07, 150 hosts, balloon off): 20110303 ``pack``
107.3 hosts against 106.4 at the comfort level and 97.3 at the
thresholds, 20110325 108.4 against 108.3 and 99.1; the memory the guests
use grows all day (page cache, balloon off: on 20110303 55 hosts' worth
at midnight, 117 at the end of the day), so the aim (99.9 and 101.4) asks
for every host filled to within a few per cent of its memory threshold
on a load that only rises.

A fourth run, ``pack+consolidation`` (:data:`CONSOLIDATED`), is ``pack``
with the balancer's consolidation pass on (issue 15: pack alone never
hands a host back within the day, the consolidation pass does when load
falls). It runs as an operator would set it, not tuned to a day
(:data:`CONSOLIDATION`): a pass every hour (``consolidation_interval``
3600: a host freed for less than an hour saves little against two
rounds of migrations, and hourly is the service's documented example)
on the guests' peaks over the last four hours
(``consolidation_peak_window`` 14400: long enough to hold a working
day's morning ramp and the PlanetLab days' busy hours, short enough
that the pass starts within a simulated day, which the default day-long
window would not: the simulated balancer starts watching at the start
of the trace), freed hosts disabled (``disable_freed_hosts``: the
hotspot strategy does not refill them unless a hotspot needs one). Its
rows: the energy aim against ``spread`` (printed, never failing the
run) and the enforced targets (cuts against ``none``, re-triggers),
which fail the run as ``pack``'s do: consolidation must create no
hotspot. Measured: the pass empties at most one host a day here. Not
for lack of passes: memory binds (the balloon off, page cache growing
all day), and the active hosts' peak memory is above the comfort level
the pass fills destinations to (``memory_threshold`` less
``destination_memory_headroom``) at most passes, so no guest has
anywhere to go. What meets the energy aim of 20110309 on 150 hosts is
memory's own, smaller headroom (0.10; 540 kWh with 0.30, 519 with it:
doc/source/simulator.rst, Packing benchmark).

Run it as ``nova-drs simulate --pack-bench [--trace-dir DIR]
[--pack-days D,D] [--pack-hosts N,N]``. A day of 200 hosts takes about
10 s per run on one core; CI runs the default (two days, 150 and 200
hosts: 16 runs, four of them ``pack+consolidation``); the two runs
with agents every 10 s add about 21 s of CPU.
"""

import sys
import time

DAYS = ('20110306', '20110309')
HOSTS = (150, 200)
RUNS = ('none', 'hotspot:pack', 'hotspot:spread')
#: the label of the run of pack with the consolidation pass on
CONSOLIDATED = 'pack+consolidation'
#: its (consolidation_interval, consolidation_peak_window, disable
#: freed hosts): see the module's doc
CONSOLIDATION = (3600.0, 4 * 3600.0, True)

MIN_CUT = 0.80
MIN_FEWER_HOSTS = 0.30
MIN_LESS_ENERGY = 0.20
MAX_RETRIGGER = 0.05
MAX_DEST_RETRIGGER = 0.02
#: the guards of the aims not met yet (issue 15 is open while they are)
GUARD_FEWER_HOSTS = 0.15
GUARD_LESS_ENERGY = 0.15
#: the production-like agent interval the re-trigger target is also
#: judged at (seconds)
AGENT_INTERVAL_S = 10.0

PASS, FAIL, MISSED = 'PASS', 'FAIL', 'MISSED'
#: an aim that no placement can reach on that day and size (not a miss)
INFEASIBLE = 'INFEASIBLE'


def _cut(value, reference):
    if reference <= 0:
        return 1.0 if value <= 0 else 0.0
    return 1.0 - value / reference


def _at_least(value, aim, guard):
    """PASS at the aim, MISSED between the guard and it, FAIL below."""
    if value >= aim - 1e-12:
        return PASS
    return MISSED if value >= guard - 1e-12 else FAIL


def lower_bound(history, workload, hosts, conf, interval_s, levels=None):
    """Fewest active hosts, and least energy, any placement could have.

    Per step, the larger of: the CPU and memory demand of every guest (the
    ``none`` run's loads, placement aside) over what one host holds under
    its ``[drs]`` thresholds, and the flavors' vCPUs and memory over what
    one host's allocation ratios allow; fractional (no bin-packing loss),
    so a true lower bound for identical hosts, as the bench builds them.
    Energy: the bound's hosts idle, plus the CPU demand's share of
    ``full - idle`` watts (the same whatever the placement, with no host
    above 100 %). Returns {'hosts': mean hosts, 'energy_kwh': kWh}.

    ``levels``: (CPU, memory) shares of a host to hold the demand under
    instead of the thresholds (:func:`comfort_levels`: the bound of a
    placement that keeps every host at the destinations' comfort level).
    """
    import numpy as np

    drs = conf.drs
    cpu_level, memory_level = (levels if levels is not None
                               else (drs.cpu_threshold,
                                     drs.memory_threshold))
    cpu = np.asarray(history['cpu_load'], dtype=float).sum(axis=1)
    mem = np.asarray(history['memory_load'], dtype=float).sum(axis=1)
    vcpu_room = float(hosts.vcpus[0] * hosts.cpu_allocation_ratio[0])
    mem_room = float((hosts.memory_mb[0] - hosts.reserved_host_memory_mb[0])
                     * hosts.ram_allocation_ratio[0])
    alloc = max(float(workload.vcpus.sum()) / vcpu_room,
                float(workload.memory_mb.sum()) / mem_room)
    need = np.ceil(np.maximum.reduce([
        cpu / cpu_level, mem / memory_level,
        np.full(cpu.shape, alloc)]) - 1e-9)
    opts = conf.drs_balancer
    watts = (opts.host_power_idle_w * need
             + (opts.host_power_full_w - opts.host_power_idle_w) * cpu)
    return {'hosts': float(need.mean()),
            'energy_kwh': float(watts.sum()) * interval_s / 3.6e6}


def overloaded_rows(history, conf, n_hosts):
    """Per history row: the guests need more than ``n_hosts`` hosts.

    Their CPU or memory demand (the ``none`` run's loads, placement
    aside) over what one host holds under its ``[drs]`` thresholds is
    above the cluster's hosts: at such a step some host is above a
    threshold whatever the placement, and on a cluster that stays there
    for hours (20110403 on 150 hosts: 84 of 288 samples) most are.
    """
    import numpy as np

    drs = conf.drs
    cpu = np.asarray(history['cpu_load'], dtype=float).sum(axis=1)
    mem = np.asarray(history['memory_load'], dtype=float).sum(axis=1)
    need = np.maximum(cpu / drs.cpu_threshold, mem / drs.memory_threshold)
    return need > n_hosts + 1e-9


def hot_share(history, rows):
    """Hot host-steps over active host-steps on the history ``rows``."""
    active = float(history['active_hosts'][rows].sum())
    return float(history['hot_hosts'][rows].sum()) / active if active \
        else 0.0


def holdable(histories, conf, n_hosts):
    """What :func:`check` judges the hotspot cut on, or None.

    None when the cluster can hold the guests under its thresholds at
    every sample; else {'share': share of the samples it cannot, 'hot':
    {run: :func:`hot_share` on the others}}.
    """
    import numpy as np

    over = overloaded_rows(histories['none'], conf, n_hosts)
    if not over.any():
        return None
    rows = np.flatnonzero(~over)
    return {'share': float(over.mean()),
            'hot': {name: hot_share(h, rows)
                    for name, h in histories.items()}}


def comfort_levels(conf):
    """(CPU, memory): the shares of a host ``pack`` fills destinations to.

    Each ``[drs]`` threshold less the destinations' headroom
    (``[drs_balancer] destination_headroom``, memory's own
    ``destination_memory_headroom``): the planner's comfort level.
    """
    from nova_drs.balancer.strategies import consolidate
    from nova_drs.model import cluster

    gap = consolidate.comfort_gap(conf)
    return (max(conf.drs.cpu_threshold - gap[cluster.CPU], 1e-3),
            max(conf.drs.memory_threshold - gap[cluster.MEMORY], 1e-3))


def check(day, hosts, metrics, bound=None, held=None, run=RUNS[1]):
    """[(target, figures, PASS | MISSED | INFEASIBLE | FAIL)].

    For one day and size; ``bound``: :func:`lower_bound`'s figures, which
    turn an aim no placement can reach into INFEASIBLE. ``held``:
    :func:`holdable`'s, when the cluster cannot hold the guests under its
    thresholds at some samples: the hotspot cut is then judged on the
    others (the whole day's figures printed beside), where a placement
    could keep every host cool; ``run``: the name ``pack``'s run has in
    its ``hot`` figures.
    """
    none, pack, spread = (metrics[n] for n in RUNS)
    out = []
    for key, label, guard in (
            ('hotspot_host_time_fraction', 'hotspot time', MIN_CUT),
            ('cpu_overload_time_fraction', 'SLATAH', MIN_CUT)):
        cut = _cut(pack[key], none[key])
        figures = '%.2f%% -> %.2f%% (-%.0f%%)' % (
            100 * none[key], 100 * pack[key], 100 * cut)
        if held is not None and key == 'hotspot_host_time_fraction':
            before, after = held['hot']['none'], held['hot'][run]
            whole = figures
            cut = _cut(after, before)
            figures = ('%.2f%% -> %.2f%% (-%.0f%%) on the %.0f%% of the '
                       'day the cluster can hold under its thresholds '
                       '(the guests need more hosts than it has the rest '
                       'of it; all day: %s)' % (
                           100 * before, 100 * after, 100 * cut,
                           100 * (1.0 - held['share']), whole))
        out.append(('pack cuts %s >= 80%% vs none%s' % (
                        label, '' if guard == MIN_CUT
                        else ' (guard %.0f%%)' % (100 * guard)),
                    figures, _at_least(cut, MIN_CUT, guard)))
    for key, label, unit, fmt, aim, guard in (
            ('mean_active_hosts', 'fewer active hosts', 'hosts', '%.1f',
             MIN_FEWER_HOSTS, GUARD_FEWER_HOSTS),
            ('energy_kwh', 'less energy', 'energy_kwh', '%.0f',
             MIN_LESS_ENERGY, GUARD_LESS_ENERGY)):
        cut = _cut(pack[key], spread[key])
        figures = (fmt + ' vs ' + fmt + '%s (-%.0f%%)') % (
            pack[key], spread[key], ' kWh' if unit == 'energy_kwh' else '',
            100 * cut)
        result = _at_least(cut, aim, guard)
        reachable = (1.0 - aim) * spread[key]
        if bound is not None:
            figures += ('; any placement needs >= ' + fmt + ', the aim <= '
                        + fmt) % (bound[unit], reachable)
            comfort = bound.get('comfort')
            if comfort is not None:
                # how far pack is from what its own safety rule allows
                figures += ('; at the comfort level >= ' + fmt) % (
                    comfort[unit])
            # below the guard only when the guard itself is reachable: on
            # a cluster too tight for spread to spread (every placement
            # needs most hosts), no placement is 15 % below it
            limit = reachable if result == MISSED else (
                (1.0 - guard) * spread[key] if result == FAIL else None)
            if limit is not None and bound[unit] > limit + 1e-9:
                result = INFEASIBLE
        out.append(('pack >= %.0f%% %s than spread (guard %.0f%%)'
                    % (100 * aim, label, 100 * guard), figures, result))
    out.append(('pack: relieved hosts hot again <= 5%',
                '%.1f%% of %d' % (100 * pack['retrigger_share'],
                                  pack['relieved_hosts']),
                PASS if pack['retrigger_share'] <= MAX_RETRIGGER + 1e-12
                else FAIL))
    out.append(('pack: destinations hot again <= 2%',
                '%.1f%%' % (100 * pack['destination_retrigger_share']),
                PASS if pack['destination_retrigger_share']
                <= MAX_DEST_RETRIGGER + 1e-12 else FAIL))
    return out


def agent_interval_run(trace, day, n, conf, progress=None):
    """``pack`` with agents every :data:`AGENT_INTERVAL_S`: (metrics, row).

    ``row``: the re-trigger target, as :func:`check`'s rows.
    """
    from nova_drs.simulator import engine
    from nova_drs.simulator import scenario
    from nova_drs.simulator import traces

    name = RUNS[1]
    scen = scenario.build(
        trace, scenario.host_spec(traces.PLANETLAB, n), conf,
        engine.Options(balloon=False, mode=engine.FULL,
                       agent_interval_s=AGENT_INTERVAL_S),
        seed=0, extra_info={'day': day})
    results, _hist = scenario.run(scen, (name,), progress)
    m = results['strategies'][name]
    return m, check_agent_interval(m)


def check_agent_interval(pack):
    """The re-trigger targets of ``pack`` with agents every 10 s: rows.

    Relieved hosts as at 300 s. Destinations less those hot again running
    a single guest above a threshold on its own on any host
    (``destination_retrigger_lone_share``): agents every 10 s catch a
    large guest on its way up, under its threshold; moved alone to an
    empty host (the best a guest that size can get: no neighbour), it
    crosses the threshold there minutes later, and would wherever it ran.
    No destination choice avoids that; the figures print it apart.
    """
    every = 'pack, agents every %d s: ' % AGENT_INTERVAL_S
    lone = pack.get('destination_retrigger_lone_share', 0.0)
    avoidable = pack['destination_retrigger_share'] - lone
    return [
        (every + 'relieved hosts hot again <= 5%',
         '%.1f%% of %d' % (100 * pack['retrigger_share'],
                           pack['relieved_hosts']),
         PASS if pack['retrigger_share'] <= MAX_RETRIGGER + 1e-12
         else FAIL),
        (every + 'destinations hot again <= 2%, less lone guests',
         '%.1f%% of %d (%.1f%% in all, %.1f%% a lone guest above its '
         'threshold)' % (100 * avoidable, pack.get('filled_hosts', 0),
                         100 * pack['destination_retrigger_share'],
                         100 * lone),
         PASS if avoidable <= MAX_DEST_RETRIGGER + 1e-12 else FAIL)]


def check_consolidation(metrics, bound=None, held=None):
    """[(target, figures, result)] of the ``pack+consolidation`` run.

    The enforced targets as for ``pack`` (a FAIL fails the run) and the
    energy aim against ``spread`` (PASS, MISSED or INFEASIBLE; never
    FAIL: it is what the run is measured for, not yet a guard).
    """
    as_pack = dict(metrics)
    as_pack['hotspot:pack'] = metrics[CONSOLIDATED]
    out = []
    for target, figures, result in check(None, None, as_pack, bound,
                                         held, run=CONSOLIDATED):
        if 'fewer active hosts' in target:
            continue
        if 'less energy' in target:
            # an aim only: no guard below it
            target = target.split(' (guard')[0]
            result = MISSED if result == FAIL else result
        out.append((target.replace('pack', CONSOLIDATED, 1), figures,
                    result))
    m = metrics[CONSOLIDATED]
    out.append(('%s: passes planned, hosts emptied' % CONSOLIDATED,
                '%d of %d pass(es) applied a plan, %d host(s) emptied, %d '
                'hot within the window after; skipped: %s' % (
                    m.get('consolidation_plans', 0),
                    m.get('consolidation_passes', 0),
                    m.get('consolidation_hosts_emptied', 0),
                    m.get('consolidation_hotspots_created', 0),
                    ', '.join('%s %d' % kv for kv in m.get(
                        'consolidation_skipped', {}).items()) or 'none'),
                PASS))
    return out


def _consolidated(scen, progress=None):
    """The ``pack`` run of ``scen`` with the consolidation pass on."""
    import dataclasses

    sim = scen.simulation
    interval, window, disable = CONSOLIDATION
    saved = sim.options
    sim.options = dataclasses.replace(
        saved, consolidation_interval_s=interval,
        consolidation_peak_window_s=window, disable_freed_hosts=disable)
    try:
        return sim.run('hotspot:pack', progress)
    finally:
        sim.options = saved


def run(trace_root, conf, days=DAYS, hosts=HOSTS, out=None):
    """Run every day and size; return (passed, rows)."""
    from nova_drs.bench import cli as bench_cli
    from nova_drs.simulator import engine
    from nova_drs.simulator import scenario
    from nova_drs.simulator import traces

    from nova_drs.simulator import progress as progress_mod

    out = out or sys.stdout
    started = time.perf_counter()
    rows, passed = [], True
    loaded = [(day, traces.load_planetlab(
        bench_cli.find_day_dir(trace_root, day))) for day in days]
    # a day of samples per run: four per size, and the run with agents
    # every AGENT_INTERVAL_S at the smallest size
    runs_per_day = len(hosts) * (len(RUNS) + 1) + 1
    progress = progress_mod.Progress(
        sum(trace.cpu.shape[1] for _day, trace in loaded) * runs_per_day,
        desc='pack bench')
    table = [['day', 'hosts', 'run', 'SLATAH %', 'swap %', 'hotspot %',
              'migr',
              'active hosts', 'energy kWh', 're-hot %', 'dest re-hot %']]
    for day, trace in loaded:
        for n in hosts:
            # NOTE: full mode: the aims judge where every relief goes
            # (pack against spread), measured so; in partial mode most
            # hotspots are only recommended
            scen = scenario.build(
                trace, scenario.host_spec(traces.PLANETLAB, n), conf,
                engine.Options(balloon=False, mode=engine.FULL),
                seed=0,
                extra_info={'day': day})
            progress.set_context('%s, %d hosts' % (day, n))
            results, hist = scenario.run(scen, RUNS, progress)
            metrics = dict(results['strategies'])
            progress.set_label(CONSOLIDATED)
            consolidated = _consolidated(scen, progress)
            metrics[CONSOLIDATED] = consolidated.metrics
            hist = dict(hist)
            hist[CONSOLIDATED] = consolidated.history
            sim = scen.simulation
            bound = lower_bound(hist['none'], sim.workload, sim.hosts, conf,
                                sim.workload.interval_s)
            bound['comfort'] = lower_bound(
                hist['none'], sim.workload, sim.hosts, conf,
                sim.workload.interval_s, levels=comfort_levels(conf))
            for name in RUNS + (CONSOLIDATED,):
                table.append(_table_row(day, n, name, metrics[name]))
            held = holdable(hist, conf, n)
            for target, figures, result in (
                    check(day, n, metrics, bound, held)
                    + check_consolidation(metrics, bound, held)):
                rows.append((day, n, target, figures, result))
                passed = passed and result != FAIL
            if n == min(hosts):
                progress.set_context('%s, %d hosts, agents every %d s' % (
                    day, n, AGENT_INTERVAL_S))
                m, more = agent_interval_run(trace, day, n, conf, progress)
                table.append(_table_row(day, n, '%s@%ds' % (
                    RUNS[1], AGENT_INTERVAL_S), m))
                for row in more:
                    rows.append((day, n) + row)
                    passed = passed and row[2] != FAIL
    progress.close()
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    for r in table:
        out.write('  '.join(c.ljust(widths[k]) if k in (0, 2)
                            else c.rjust(widths[k])
                            for k, c in enumerate(r)).rstrip() + '\n')
    out.write('\ntargets (FAIL = below the guard, exit code 1; MISSED = an '
              'aim of issue 15 not met yet, above its guard; INFEASIBLE = '
              'an aim no placement reaches, by a lower bound on the hosts '
              'the guests need under the thresholds):\n')
    for day, n, target, figures, result in rows:
        out.write('%-10s  %s  %4d  %-58s  %s\n' % (
            result, day, n, target, figures))
    missed = sum(1 for r in rows if r[4] == MISSED)
    infeasible = sum(1 for r in rows if r[4] == INFEASIBLE)
    out.write('\npacking benchmark: %d day(s) x %d size(s) x %d runs '
              '(+ %d with agents every %d s), %.1f s; %s%s%s\n' % (
                  len(days), len(hosts), len(RUNS) + 1, len(days),
                  AGENT_INTERVAL_S,
                  time.perf_counter() - started,
                  'guards met' if passed else 'GUARD FAILED',
                  '; %d aim(s) MISSED' % missed if missed else
                  '; every reachable aim met',
                  '; %d aim(s) INFEASIBLE' % infeasible if infeasible
                  else ''))
    return passed, rows


def _table_row(day, n, name, m):
    return [day, str(n), name,
            '%.3f' % (100 * m['cpu_overload_time_fraction']),
            '%.2f' % (100 * m['swap_host_time_fraction']),
            '%.2f' % (100 * m['hotspot_host_time_fraction']),
            str(m['migrations']), '%.1f' % m['mean_active_hosts'],
            '%.1f' % m['energy_kwh'],
            '%.1f' % (100 * m['retrigger_share']),
            '%.1f' % (100 * m['destination_retrigger_share'])]


def cmd_pack_bench(args, load_conf):
    """``nova-drs simulate --pack-bench``."""
    conf = load_conf(args)
    days = [d.strip() for d in (args.pack_days or ','.join(DAYS)).split(',')
            if d.strip()]
    hosts = [int(h) for h in (args.pack_hosts
                              or ','.join(map(str, HOSTS))).split(',')
             if h.strip()]
    # no --trace-dir: $NOVA_DRS_TRACE_DIR (bench_cli.default_trace_dirs)
    passed, _rows = run(args.trace_dir, conf, days=days, hosts=hosts)
    return 0 if passed else 1
