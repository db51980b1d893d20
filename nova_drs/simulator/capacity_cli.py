# SPDX-License-Identifier: Apache-2.0
"""The ``nova-drs capacity`` subcommand: how far can memory be overcommitted?

For each seed (a draw of ``--vms`` VMs of a Bitbrains trace) and each
policy, prints the largest memory overcommit (sum of flavor memory over
host memory) that keeps the host out of pressure in ``--ok-share`` of the
time with no guest pressure event, and, with ``--plot``, draws the
memory reclaimed and the host's headroom over time at that overcommit.
The model is described in :mod:`nova_drs.simulator.capacity` and
doc/source/simulator.rst.

Exit codes: 0 done, 2 bad input (one line on standard error).
"""

import json
import os
import sys

from nova_drs.cmd import common
from nova_drs.conf import balloon as balloon_conf
from nova_drs.simulator import capacity
from nova_drs.simulator import cli as simulator_cli
from nova_drs.simulator import traces

DEFAULT_POLICIES = ('adaptive', capacity.ORACLE)


def parse_policy(text, conf):
    """``name`` or ``name:option=value,...`` -> :class:`capacity.Policy`."""
    name, _, rest = text.partition(':')
    name = name.strip()
    settings = {}
    opts = {opt.dest: opt for opt in balloon_conf.BALLOON_OPTS}
    for item in filter(None, (p.strip() for p in rest.split(','))):
        key, sep, value = item.partition('=')
        key = key.strip()
        if not sep:
            raise common.CommandError(
                '--policy %s: expected option=value, got %r' % (text, item))
        if key not in opts or key == 'policy':
            raise common.CommandError(
                '--policy %s: no option %r in [drs_balloon]' % (text, key))
        try:
            # the option's own type checks bounds and choices
            settings[key] = opts[key].type(value.strip())
        except ValueError as e:
            raise common.CommandError('--policy %s: %s: %s' % (text, key, e))
    if name not in capacity.REFERENCES:
        from nova_drs import balloon
        try:
            balloon.load(name, conf)
        except balloon.PolicyNotFound as e:
            raise common.CommandError('--policy: %s (or %s)' % (
                e, ', '.join(capacity.REFERENCES)))
    return capacity.Policy(name, settings)


def _seeds(text):
    try:
        seeds = [int(s) for s in text.split(',') if s.strip()]
    except ValueError:
        raise common.CommandError(
            '--seeds: expected numbers separated by commas, got %r' % text)
    if not seeds or min(seeds) < 0:
        raise common.CommandError('--seeds: give at least one seed >= 0')
    return seeds


def add_parser(sub, add_config_args, load_conf):
    number = simulator_cli._number
    p = sub.add_parser(
        'capacity', help='Find the largest memory overcommit a balloon '
                         'policy allows on replayed traces.',
        description='Replay Bitbrains memory traces for one host of N VMs '
                    'through the balloon policy and report, per policy '
                    'and setting, the largest memory overcommit (sum of '
                    'flavor memory / host memory) that keeps the host out '
                    'of memory pressure in 99%% of the time with no guest '
                    'pressure event. See doc/source/simulator.rst.')
    p.add_argument('--trace-dir', metavar='DIR',
                   help='Bitbrains traces root, month folder or folder of '
                        '<n>.csv files (default: the bundled sample).')
    p.add_argument('--month', metavar='MONTH',
                   help='Bitbrains month folder, e.g. 2013-7 (default the '
                        'first).')
    p.add_argument('--vms', type=number(int, '--vms', 1), default=40,
                   metavar='N', help='VMs on the host (default 40).')
    p.add_argument('--seeds', default='0', metavar='S,...',
                   help='Seeds of the draw of VMs, one answer each '
                        '(default 0).')
    p.add_argument('--hours', type=number(float, '--hours', exclusive=True),
                   default=48.0, metavar='H',
                   help='Hours of trace replayed (default 48).')
    p.add_argument('--interval',
                   type=number(float, '--interval', exclusive=True),
                   default=10.0, metavar='SECONDS',
                   help='Balloon policy period, the agent interval '
                        '(default 10).')
    p.add_argument('--policy', action='append', metavar='NAME[:OPT=V,...]',
                   help='Policy to answer for, with [drs_balloon] settings, '
                        'e.g. "adaptive:floor=0.25"; "oracle" knows the '
                        'demand, "hindsight" sees the demand of the step '
                        'before and each VM\'s largest one-step rise, '
                        '"none" never balloons. Repeat for several '
                        '(default: adaptive and oracle).')
    p.add_argument('--free-page-reporting', choices=simulator_cli.ON_OFF,
                   default='off',
                   help='Guests return free pages to the host (default '
                        'off).')
    p.add_argument('--page-cache-growth',
                   type=number(float, '--page-cache-growth'), default=0.02,
                   metavar='X', help='Guest page cache growth, share of '
                                     'flavor memory per hour (default '
                                     '%(default)s).')
    p.add_argument('--ok-share', type=number(float, '--ok-share',
                                             exclusive=True),
                   default=capacity.OK_SHARE, metavar='X',
                   help='Share of the time the host must be out of '
                        'pressure (default %(default)s).')
    p.add_argument('--plot', metavar='DIR',
                   help='Write capacity-seed<S>.png (memory reclaimed and '
                        'host headroom at each policy\'s answer) here.')
    p.add_argument('--json', metavar='FILE',
                   help='Write the answers as JSON.')
    add_config_args(p)
    p.set_defaults(func=lambda args: cmd_capacity(args, load_conf))
    return p


def format_table(rows):
    head = ('seed', 'interval_s', 'policy', 'max overcommit', 'host ok %',
            'guest events', 'balloon changes')
    lines = [head]
    for r in rows:
        lines.append((str(r['seed']), '%g' % r['interval_s'], r['policy'],
                      '-' if r['max_overcommit'] is None
                      else '%.2f' % r['max_overcommit'],
                      '%.2f' % (100.0 * r['host_ok']),
                      str(r['guest_events']), str(r['balloon_changes'])))
    widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
    return ''.join('  '.join(v.ljust(w) for v, w in zip(line, widths))
                   .rstrip() + '\n' for line in lines)


def row(vms, answer):
    run = answer.run
    return {'seed': vms.seed, 'interval_s': vms.interval_s,
            'vms': len(vms.names), 'policy': answer.policy.label,
            'max_overcommit': answer.max_overcommit,
            'host_ok': run.host_ok, 'guest_events': run.guest_events,
            'balloon_changes': run.balloon_changes,
            'host_mb_at_max': run.host_mb}


def cmd_capacity(args, load_conf):
    from nova_drs.simulator import locate

    conf = load_conf(args)
    seeds = _seeds(args.seeds)
    policies = [parse_policy(text, conf)
                for text in (args.policy or DEFAULT_POLICIES)]
    if args.plot:
        try:
            os.makedirs(args.plot, exist_ok=True)
        except OSError as e:
            raise common.CommandError('--plot: cannot create %s: %s'
                                      % (args.plot, e.strerror or e))
    try:
        directory, _month = locate.find(traces.BITBRAINS, args.trace_dir,
                                        args.month)
        trace = traces.load_bitbrains(directory)
        draws = [capacity.select_vms(trace, args.vms, seed, args.hours,
                                     args.interval) for seed in seeds]
    except traces.TraceError as e:
        raise common.CommandError(str(e))
    kwargs = {'page_cache_growth': args.page_cache_growth,
              'free_page_reporting': args.free_page_reporting == 'on'}
    rows = []
    for vms in draws:
        answers = [capacity.find_max_overcommit(
            vms, conf, policy, ok_share=args.ok_share, **kwargs)
            for policy in policies]
        rows.extend(row(vms, a) for a in answers)
        if args.plot:
            from nova_drs.simulator import plots
            runs = {a.policy.label: capacity.check_at(
                vms, conf, a.policy, a.max_overcommit or 1.0, history=True,
                **kwargs) for a in answers}
            path = os.path.join(args.plot, 'capacity-seed%d.png' % vms.seed)
            plots.capacity(runs, vms.interval_s, path)
            sys.stdout.write('plot: %s\n' % os.path.abspath(path))
    sys.stdout.write(format_table(rows))
    if args.json:
        try:
            with open(args.json, 'w') as f:
                json.dump({'input': {
                    'trace': directory, 'vms': args.vms, 'seeds': seeds,
                    'hours': args.hours, 'interval_s': args.interval,
                    'ok_share': args.ok_share, **kwargs},
                    'answers': rows}, f, indent=1)
        except OSError as e:
            raise common.CommandError('cannot write %s: %s' % (
                args.json, e.strerror or e))
    return 0
