# SPDX-License-Identifier: Apache-2.0
"""The ``nova-drs bench`` subcommand: options, checks and output.

Exit codes: 0 every target met, 1 a target missed (the table says which),
2 bad input (one line on standard error).
"""

import json
import os
import sys

import numpy as np

from nova_drs.cmd import common

EXIT_OK = 0
EXIT_TARGET_MISSED = 1

DEFAULT_SIZES = '100,1000,10000,30000'
#: added by --region: one million instances
REGION_SIZE = 100000
DEFAULT_OPTIMUM_SIZES = '100,200'
QUICK_SIZES = '100,1000'
QUICK_OPTIMUM_SIZES = '100'
QUICK_RUNS = 2
DEFAULT_DAY = '20110303'
MAX_HOSTS = 100000


def parse_sizes(text, option, allow_empty=False):
    """'100,1000' -> [100, 1000]; raises CommandError on bad input."""
    text = (text or '').strip()
    if not text or text.lower() == 'none':
        if allow_empty:
            return []
        raise common.CommandError('%s: give at least one cluster size'
                                  % option)
    sizes = []
    for part in text.split(','):
        part = part.strip().replace('_', '')
        try:
            n = int(part)
        except ValueError:
            raise common.CommandError(
                '%s: %r is not a whole number of hosts (expected e.g. '
                '100,1000)' % (option, part))
        if not 2 <= n <= MAX_HOSTS:
            raise common.CommandError('%s: %d hosts is out of range (2-%d)'
                                      % (option, n, MAX_HOSTS))
        if n not in sizes:
            sizes.append(n)
    return sorted(sizes)


def parse_steps(text):
    if text is None or text.strip().lower() == 'auto':
        return None
    steps = []
    for part in text.split(','):
        try:
            steps.append(int(part))
        except ValueError:
            raise common.CommandError('--steps: %r is not a time step number'
                                      % part.strip())
    return steps


def default_trace_dirs():
    """Candidates for --trace-dir: $NOVA_DRS_TRACE_DIR, if set.

    There is no default place: the traces are the operator's download
    (doc/source/simulator.rst, "Traces").
    """
    root = os.environ.get('NOVA_DRS_TRACE_DIR')
    return [root] if root else []


def find_day_dir(trace_dir, day):
    """Return the directory of ``day``'s PlanetLab trace files.

    ``trace_dir`` may be the traces root (holding ``planetlab/``) or the
    ``planetlab`` directory itself; None tries the defaults in turn.
    """
    roots = [trace_dir] if trace_dir else default_trace_dirs()
    for root in roots:
        for base in (os.path.join(root, 'planetlab'), root):
            path = os.path.join(base, day)
            if os.path.isdir(path):
                return os.path.normpath(path)
    for root in roots:
        for base in (os.path.join(root, 'planetlab'), root):
            if os.path.isdir(base):
                days = sorted(d for d in os.listdir(base)
                              if d.isdigit()
                              and os.path.isdir(os.path.join(base, d)))
                if days:
                    raise common.CommandError(
                        'no PlanetLab trace for day %s in %s (days there: '
                        '%s)' % (day, os.path.normpath(base),
                                 ', '.join(days)))
    if trace_dir:
        raise common.CommandError('trace directory %s not found or holds no '
                                  'PlanetLab days' % trace_dir)
    if not roots:
        raise common.CommandError(
            'no PlanetLab traces given: pass --trace-dir '
            '(or set NOVA_DRS_TRACE_DIR)')
    raise common.CommandError(
        'PlanetLab traces not found in %s; pass --trace-dir'
        % ' or '.join(os.path.normpath(r) for r in roots))


def add_parser(sub, add_config_args, load_conf):
    p = sub.add_parser(
        'bench', help='Benchmark the planner against a greedy baseline.',
        description='Build clusters from PlanetLab CPU traces, plan them '
                    'with the production strategy and a greedy baseline '
                    '(and the exact MILP optimum on small clusters), print '
                    'planning time, hotspots, migrations, memory moved and '
                    'violations, and check the targets. Exit code 1 when a '
                    'target is missed.')
    p.add_argument('--sizes', metavar='N,N,...',
                   help='Cluster sizes in hosts (default %s).'
                        % DEFAULT_SIZES)
    p.add_argument('--optimum-sizes', metavar='N,N,...',
                   help='Sizes for which to compute the exact optimum '
                        '(default %s; "none" to skip).'
                        % DEFAULT_OPTIMUM_SIZES)
    p.add_argument('--optimum-time-limit', type=float, default=120.0,
                   metavar='SECONDS',
                   help='Time limit of each MILP solve (default 120).')
    p.add_argument('--runs', type=int, metavar='N',
                   help='Planning runs per scenario, the median is reported '
                        '(default 5, 1 for a region; the greedy baseline '
                        'runs once from 10,000 hosts).')
    p.add_argument('--day', default=DEFAULT_DAY,
                   help='PlanetLab trace day (default %s).' % DEFAULT_DAY)
    p.add_argument('--trace-dir', metavar='DIR',
                   help='Directory holding planetlab/<day>/ (default '
                        '$NOVA_DRS_TRACE_DIR; doc/source/simulator.rst says '
                        'where to get the traces).')
    p.add_argument('--steps', metavar='auto|S,S,...',
                   help='Trace time steps of the scenarios (default auto: '
                        'the 50th, 75th and 90th percentile of mean CPU).')
    p.add_argument('--seed', type=int, default=0,
                   help='Seed of the first scenario (default 0).')
    p.add_argument('--strategy', default='hotspot', metavar='NAME',
                   help='Production strategy to benchmark (default '
                        'hotspot).')
    p.add_argument('--json', metavar='FILE',
                   help='Also write every figure to FILE as JSON.')
    p.add_argument('--region', action='store_true',
                   help='Also plan a %d-host region (one million '
                        'instances, one run per scenario): planning within '
                        '10 s and 2 GiB; the growth ratio is then taken '
                        'at that size.' % REGION_SIZE)
    p.add_argument('--tight-sizes', metavar='N,N,...',
                   help='Also plan tight clusters of these sizes (95%% of '
                        'the vCPU allocation room taken) against the exact '
                        'optimum: at least 95%% of the hot hosts it '
                        'relieves, within 1.1 x its migrations (default '
                        'none; issue 15 used 200,500).')
    p.add_argument('--quick', action='store_true',
                   help='Smoke test: sizes %s, optimum %s only, %d runs.'
                        % (QUICK_SIZES, QUICK_OPTIMUM_SIZES, QUICK_RUNS))
    add_config_args(p)
    p.set_defaults(func=lambda args: cmd_bench(args, load_conf))
    return p


def _progress(message):
    sys.stderr.write('bench: %s\n' % message)
    sys.stderr.flush()


def settings_from_args(args):
    from nova_drs.bench import runner

    sizes = parse_sizes(args.sizes or (QUICK_SIZES if args.quick
                                       else DEFAULT_SIZES), '--sizes')
    if getattr(args, 'region', False) and REGION_SIZE not in sizes:
        sizes.append(REGION_SIZE)
    if args.optimum_sizes is not None:
        opt_sizes = parse_sizes(args.optimum_sizes, '--optimum-sizes',
                                allow_empty=True)
    else:
        opt_sizes = parse_sizes(QUICK_OPTIMUM_SIZES if args.quick
                                else DEFAULT_OPTIMUM_SIZES,
                                '--optimum-sizes')
    if args.runs is not None and args.runs < 1:
        raise common.CommandError('--runs must be at least 1')
    if args.seed < 0:
        raise common.CommandError('--seed must not be negative')
    if args.optimum_time_limit <= 0:
        raise common.CommandError('--optimum-time-limit must be positive')
    if args.json:
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            raise common.CommandError('cannot write %s: no directory %s'
                                      % (args.json, parent))
    return runner.Settings(
        sizes=sizes, optimum_sizes=opt_sizes, day=args.day,
        day_dir=find_day_dir(args.trace_dir, args.day), seed=args.seed,
        strategy=args.strategy,
        runs=args.runs or (QUICK_RUNS if args.quick else None),
        steps=parse_steps(args.steps),
        optimum_time_limit=args.optimum_time_limit,
        config_files=list(args.config_file),
        config_dirs=list(args.config_dir))


def _plain(value):
    """JSON-safe copy: numpy scalars to Python, inf and NaN to None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _run_tight(args, settings, conf, results):
    """The tight-cluster rows (:mod:`nova_drs.bench.tight`), added in."""
    from nova_drs.balancer import strategies
    from nova_drs.bench import runner
    from nova_drs.bench import tight
    from nova_drs.model import cluster
    from nova_drs.simulator import traces

    sizes = parse_sizes(args.tight_sizes, '--tight-sizes')
    trace = traces.load_planetlab(settings.day_dir).cpu * 100.0
    steps = [(s['step'], s['label'], None)
             for s in results['settings']['steps']]
    found = tight.run(
        strategies.load(settings.strategy, conf), trace, steps, sizes,
        settings.seed, cluster.thresholds_from_conf(conf),
        runner.RECENT_STEPS, margin=conf.drs_balancer.relief_margin,
        cooldown_s=conf.drs_balancer.instance_cooldown,
        time_limit=settings.optimum_time_limit, progress=_progress)
    results['tight'] = found['sizes']
    results['targets'] += found['targets']
    results['passed'] = results['passed'] and all(
        t['passed'] for t in found['targets'] if t['enforced'])


def cmd_bench(args, load_conf):
    from nova_drs.balancer import strategies
    from nova_drs.bench import report
    from nova_drs.bench import runner
    from nova_drs.model import cluster

    settings = settings_from_args(args)
    conf = load_conf(args)
    for group, values in runner.OVERRIDES.items():
        for name, value in values.items():
            conf.set_override(name, value, group)
    try:
        strategies.load(settings.strategy, conf)
    except strategies.StrategyNotFound as e:
        raise common.CommandError(str(e))
    try:
        results = runner.run(
            settings, cluster.thresholds_from_conf(conf),
            cooldown_s=conf.drs_balancer.instance_cooldown,
            progress=_progress, margin=conf.drs_balancer.relief_margin)
    except runner.BenchError as e:
        raise common.CommandError(str(e))
    if args.tight_sizes:
        _run_tight(args, settings, conf, results)
    sys.stdout.write(report.format_text(results))
    if args.json:
        try:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump(_plain(results), f, indent=1, allow_nan=False)
                f.write('\n')
        except OSError as e:
            raise common.CommandError('cannot write %s: %s'
                                      % (args.json, e.strerror or e))
    return EXIT_OK if results['passed'] else EXIT_TARGET_MISSED
