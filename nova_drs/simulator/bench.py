# SPDX-License-Identifier: Apache-2.0
"""Simulator speed benchmark: a whole PlanetLab day under 60 seconds.

Replays every VM of one PlanetLab day (about 1,000-1,500 VMs, 288 steps)
on 200 hosts with the ``none``, ``hotspot`` and ``balance`` strategies and
the balloon policy in ``full`` mode, writes the report (plots included)
to a temporary directory, and prints the wall-clock time of the whole:
trace loading, the three runs and the report, judged at the reference
machine speed (:mod:`nova_drs.machine_speed`: its numpy reference
workload timed every 24 trace steps; the measured time and the factor
are printed too).
Exit code 1 when it exceeds the target.

Then a *full cluster*: PlanetLab day 20110409 (1,358 VMs) on 120 hosts,
which first-fit fills to 112 (full by allocation: most relief needs an
empty host, and many plans move nothing), with ``hotspot`` and
``balance``; the same target. A full cluster must cost no more to plan
than a slack one (issue 15: 287 plans moving nothing once took 250-300
s). Skipped, and said so, when the trace directory lacks that day.

Run it as ``nova-drs simulate --bench [--trace-dir DIR] [--day DAY]
[--hosts N]`` or ``python -m nova_drs.simulator.bench``.
"""

import argparse
import os
import sys
import tempfile
import time

from nova_drs.cmd import common
from nova_drs import machine_speed

DAY = '20110303'
HOSTS = 200
STRATEGIES = ('none', 'hotspot', 'balance')
TARGET_S = 60.0
#: the full-cluster run: (day, hosts, strategies)
FULL_DAY = '20110409'
FULL_HOSTS = 120
FULL_STRATEGIES = ('hotspot', 'balance')


def _replay(day_dir, conf, hosts, names, sampler=None):
    """A PlanetLab day on ``hosts`` hosts: (results, histories)."""
    from nova_drs.simulator import engine
    from nova_drs.simulator import scenario
    from nova_drs.simulator import traces

    trace = traces.load_planetlab(day_dir)
    # NOTE: full mode, the heaviest path for the engine (every plan's
    # migrations run) and the one the target was set on; in partial mode
    # balance's plans, never applied, stay large: about 1 s each on 200
    # hosts (see doc/source/simulator.rst, The production path)
    scen = scenario.build(trace, scenario.host_spec(traces.PLANETLAB, hosts),
                          conf, engine.Options(mode=engine.FULL), seed=0,
                          extra_info={'day': os.path.basename(day_dir)})
    return scenario.run(scen, names, sampler)


def _judged(elapsed, sampler):
    """(seconds judged, text): the run's time at the reference speed.

    The wall time less the samples' own, divided by the machine-speed
    factor measured during the run (:mod:`nova_drs.machine_speed`).
    """
    factor = sampler.factor()
    measured = elapsed - sampler.spent_s
    judged = measured / factor
    return judged, machine_speed.judged_text(judged, measured, factor)


def run(day_dir, conf, hosts=HOSTS, target_s=TARGET_S, out=None):
    """Run the benchmark; return (passed, seconds judged, results)."""
    from nova_drs.simulator import report

    out = out or sys.stdout
    sampler = machine_speed.Sampler(numpy=True)
    started = time.perf_counter()
    sampler.sample()
    results, histories = _replay(day_dir, conf, hosts, STRATEGIES, sampler)
    simulated = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report.write_report(results, histories, tmp)
    sampler.sample()
    elapsed = time.perf_counter() - started
    judged, text = _judged(elapsed, sampler)
    passed = judged < target_s
    out.write(report.format_table(results))
    out.write(
        '\nsimulator benchmark: PlanetLab day %s, %d VMs x %d steps on %d '
        'hosts, strategies %s, balloon on: %s (simulation %.1f s, '
        'report %.1f s, as measured); target < %.0f s: %s\n' % (
            os.path.basename(day_dir), results['input']['instances'],
            results['input']['steps'], hosts, ','.join(STRATEGIES), text,
            simulated - started, elapsed - (simulated - started), target_s,
            'PASS' if passed else 'FAIL'))
    return passed, judged, results


def run_full(day_dir, conf, target_s=TARGET_S, out=None):
    """The full-cluster run; return (passed, seconds judged)."""
    from nova_drs.simulator import report

    out = out or sys.stdout
    sampler = machine_speed.Sampler(numpy=True)
    started = time.perf_counter()
    sampler.sample()
    results, _histories = _replay(day_dir, conf, FULL_HOSTS, FULL_STRATEGIES,
                                  sampler)
    sampler.sample()
    elapsed = time.perf_counter() - started
    judged, text = _judged(elapsed, sampler)
    passed = judged < target_s
    runs = results['strategies']
    out.write('\n' + report.format_table(results))
    out.write(
        '\nfull cluster: PlanetLab day %s, %d VMs on %d hosts, strategies '
        '%s: %s (planning %s); target < %.0f s: %s\n' % (
            os.path.basename(day_dir), results['input']['instances'],
            FULL_HOSTS, ','.join(FULL_STRATEGIES), text,
            ', '.join('%s %d plans %.1f s' % (
                name, runs[name]['strategy_runs'], runs[name]['decision_s'])
                for name in FULL_STRATEGIES),
            target_s, 'PASS' if passed else 'FAIL'))
    return passed, judged


def _day_dir(trace_dir, day):
    from nova_drs.bench import cli as bench_cli
    return bench_cli.find_day_dir(trace_dir, day)


def cmd_bench(args, load_conf):
    """``nova-drs simulate --bench``."""
    conf = load_conf(args)
    day_dir = _day_dir(args.trace_dir, args.day or DAY)
    passed, _elapsed, _results = run(day_dir, conf, hosts=args.hosts or HOSTS)
    try:
        full_dir = _day_dir(args.trace_dir, FULL_DAY)
    except common.CommandError as e:
        sys.stdout.write('\nfull cluster: skipped (%s)\n' % e)
    else:
        full_passed, _elapsed = run_full(full_dir, conf)
        passed = passed and full_passed
    return 0 if passed else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m nova_drs.simulator.bench',
        description='Simulator speed benchmark (see the module doc).')
    parser.add_argument('--trace-dir', metavar='DIR')
    parser.add_argument('--day', default=DAY)
    parser.add_argument('--hosts', type=int, default=HOSTS)
    common.add_config_args(parser)

    def bench(args):
        args.bench = True
        return cmd_bench(args, common.load_conf)
    return common.run('nova-drs', parser, argv, bench)


if __name__ == '__main__':
    sys.exit(main())
