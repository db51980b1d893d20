# SPDX-License-Identifier: Apache-2.0
"""Balloon capacity benchmark: the default policy against a demand oracle.

For each seed (40 Bitbrains VMs on one host) and each policy period, it
finds the largest memory overcommit the oracle allows
(:func:`nova_drs.simulator.capacity.oracle_targets`: each guest gets its
coming demand plus the same margin, above the same flat floor), then
replays the ``[drs_balloon]`` defaults at ``RATIO`` (0.95) of it. Targets,
each a miss making the exit code 1:

* at 0.95x the oracle's answer the defaults hold: host out of pressure
  in >= 99 % of the steps and no guest pressure event;
* they make at most 1/100 of the balloon changes of a policy that
  re-targets every running guest every cycle (the oVirt MoM way): that
  is, at most (running guests x steps) / 100 changes.

At a policy period of ``--aim-from`` (60 s) or more the first target is
an *aim*: printed, its miss not failing the run, and marked
"(hindsight too)" when the hindsight reference misses it as well (see
below); the changes
target is enforced at every period. Why: at a long period a guest's
demand can rise by most of its flavor memory between two samples, more
than any margin a policy learning from the past keeps. The hindsight
reference (:func:`nova_drs.simulator.capacity.hindsight_targets`) is a
reactive policy told in advance each VM's largest one-step rise; its
largest overcommit is printed for those periods ("hindsight max").

With ``--full`` it also searches the defaults' own largest overcommit
(slower) for the table. The CI run (tools/run-tests.sh) uses three seeds,
48 h at a 300 s period and 12 h at a 10 s period, to stay under a minute;
``--hours-10s 48`` gives the full figures.

Run: ``python -m nova_drs.simulator.capacity_bench [--trace-dir DIR]``.
Exit 0 when every target is met, 1 on a miss, 2 when the traces are
missing.
"""

import argparse
import os
import sys
import time

RATIO = 0.95
CHANGES_DIVISOR = 100.0
DEFAULT_SEEDS = '0,1,2'
VMS = 40
#: from this policy period (s) on, holding at RATIO x oracle is an aim
AIM_FROM_S = 60.0


def _trace_dir(root):
    if not root:
        return None
    for sub in ('bitbrains_rnd/2013-7', '2013-7', ''):
        path = os.path.join(root, sub)
        if os.path.isdir(path) and any(
                n.endswith('.csv') for n in os.listdir(path)):
            return path
    return None


def bench_one(vms, conf, full=False, aim_from=AIM_FROM_S):
    """Figures of one seed and period; returns a dict."""
    from nova_drs.simulator import capacity

    oracle = capacity.find_max_overcommit(vms, conf,
                                          capacity.Policy(capacity.ORACLE))
    defaults = capacity.Policy(conf.drs_balloon.policy)
    at = RATIO * (oracle.max_overcommit or 1.0)
    run = capacity.check_at(vms, conf, defaults, at)
    every_cycle = int(vms.on.sum())
    out = {'seed': vms.seed, 'interval_s': vms.interval_s,
           'steps': vms.steps, 'oracle_max': oracle.max_overcommit,
           'oracle_changes': oracle.run.balloon_changes, 'at': at,
           'host_ok': run.host_ok, 'guest_events': run.guest_events,
           'changes': run.balloon_changes, 'every_cycle': every_cycle,
           'default_max': None, 'hindsight_max': None,
           'aim': vms.interval_s >= aim_from}
    out['holds'] = run.holds()
    out['few_changes'] = (run.balloon_changes
                          <= every_cycle / CHANGES_DIVISOR)
    if out['aim']:
        out['hindsight_max'] = capacity.find_max_overcommit(
            vms, conf, capacity.Policy(capacity.HINDSIGHT)).max_overcommit
    if full:
        out['default_max'] = capacity.find_max_overcommit(
            vms, conf, defaults).max_overcommit
    return out


def beyond_hindsight(r):
    """Whether the hindsight reference cannot hold at 0.95x either.

    Its largest overcommit is found to within the search's tolerance.
    """
    from nova_drs.simulator import capacity

    return (r['hindsight_max'] or 0.0) + capacity.TOLERANCE < r['at']


def missed(r):
    """Whether row ``r`` misses an enforced target."""
    return not r['few_changes'] or (not r['aim'] and not r['holds'])


def result(r):
    if missed(r):
        return 'MISS'
    if r['aim'] and not r['holds']:
        if beyond_hindsight(r):
            return 'ok, aim MISSED (hindsight too)'
        return 'ok, aim MISSED'
    return 'ok'


def format_rows(rows):
    head = ('seed', 'period', 'hours', 'oracle max', 'hindsight max',
            'defaults max', 'defaults at 0.95x', 'host ok %', 'guest ev.',
            'changes', 'every-cycle/100', 'result')
    lines = [head]
    for r in rows:
        lines.append((
            str(r['seed']), '%gs' % r['interval_s'],
            '%g' % (r['steps'] * r['interval_s'] / 3600.0),
            '%.2f' % r['oracle_max'],
            '-' if r['hindsight_max'] is None
            else '%.2f' % r['hindsight_max'],
            '-' if r['default_max'] is None else '%.2f' % r['default_max'],
            '%.2f' % r['at'], '%.2f' % (100.0 * r['host_ok']),
            str(r['guest_events']), str(r['changes']),
            '%d' % (r['every_cycle'] / CHANGES_DIVISOR), result(r)))
    widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
    return ''.join('  '.join(v.ljust(w) for v, w in zip(line, widths))
                   .rstrip() + '\n' for line in lines)


def main(argv=None):
    from nova_drs import config
    from nova_drs.simulator import capacity
    from nova_drs.simulator import traces

    parser = argparse.ArgumentParser(
        prog='python -m nova_drs.simulator.capacity_bench',
        description=__doc__.split('\n')[0])
    parser.add_argument(
        '--trace-dir', default=os.environ.get('NOVA_DRS_TRACE_DIR'),
        help='Traces root holding bitbrains_rnd/2013-7 (default '
             '$NOVA_DRS_TRACE_DIR; doc/source/simulator.rst, "Traces", says '
             'where to get them).')
    parser.add_argument('--seeds', default=DEFAULT_SEEDS)
    parser.add_argument('--periods', default='300,10',
                        help='Policy periods, seconds (default 300,10).')
    parser.add_argument('--hours-300s', type=float, default=48.0)
    parser.add_argument('--hours-10s', type=float, default=12.0)
    parser.add_argument('--aim-from', type=float, default=AIM_FROM_S,
                        help='From this policy period (s) on, holding at '
                             '%.2fx the oracle is an aim, printed but not '
                             'enforced (default %g).' % (RATIO, AIM_FROM_S))
    parser.add_argument('--full', action='store_true',
                        help='Also search the defaults\' own maximum.')
    parser.add_argument('--config-file', action='append', default=[])
    args = parser.parse_args(argv)
    directory = _trace_dir(args.trace_dir)
    if directory is None:
        sys.stderr.write('capacity bench: no Bitbrains traces under %s\n'
                         % (args.trace_dir or '(give --trace-dir or '
                            'NOVA_DRS_TRACE_DIR)'))
        return 2
    conf = config.load(args.config_file)
    started = time.perf_counter()
    trace = traces.load_bitbrains(directory)
    rows = []
    try:
        periods = [float(p) for p in args.periods.split(',')]
    except ValueError:
        sys.stderr.write('capacity bench: --periods: numbers separated by '
                         'commas, got %r\n' % args.periods)
        return 2
    for interval in periods:
        hours = args.hours_300s if interval >= 300.0 else args.hours_10s
        for seed in (int(s) for s in args.seeds.split(',')):
            vms = capacity.select_vms(trace, VMS, seed, hours, interval)
            rows.append(bench_one(vms, conf, full=args.full,
                                  aim_from=args.aim_from))
    elapsed = time.perf_counter() - started
    sys.stdout.write(format_rows(rows))
    misses = [r for r in rows if missed(r)]
    aims = [r for r in rows if r['aim'] and not r['holds']]
    sys.stdout.write(
        '\ncapacity bench: %d VMs of %s, policy %s with its defaults, '
        'targets: holds at %.2fx the oracle\'s max overcommit (host out of '
        'pressure >= %.0f %% of steps, 0 guest pressure events; an aim '
        'from a %g s period on) with <= 1/%d of every-cycle balloon '
        'changes; %.1f s; %s%s\n' % (
            VMS, directory, conf.drs_balloon.policy, RATIO,
            100 * capacity.OK_SHARE, args.aim_from, CHANGES_DIVISOR,
            elapsed,
            'MISSED %d of %d' % (len(misses), len(rows)) if misses
            else 'all targets met',
            '; aim missed in %d of %d rows (in %d of them the hindsight '
            'reference misses it too)' % (
                len(aims), len(rows), sum(map(beyond_hindsight, aims)))
            if aims else ''))
    return 1 if misses else 0


if __name__ == '__main__':
    sys.exit(main())
