# SPDX-License-Identifier: Apache-2.0
"""Format the benchmark's figures as aligned text tables."""

from nova_drs.bench import greedy

HEADER = ('hosts', 'planner', 'plan s', 'hot', 'resolvable', 'resolved',
          'hot after', 'migr', 'off unres', 'GiB moved', 'viol', 'new hot',
          'step viol', 'migr/opt', 'GiB/opt')
LEFT = {1}


def table(rows, left=()):
    """Align ``rows`` (lists of str); columns in ``left`` flush left."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[c].ljust(widths[c]) if c in left else r[c].rjust(widths[c])
                 for c in range(len(r))]
        lines.append('  '.join(cells).rstrip())
    return lines


def _ratio(planner, key):
    value = planner.get(key)
    if value is None:
        return '-'
    return '%.2f' % value if value != float('inf') else 'inf'


def _planner_row(hosts, name, p):
    return [str(hosts), name, '%.4f' % p['plan_s'], str(p['hot_before']),
            str(p['resolvable']),
            '%d (%.1f%%)' % (p['resolved'], 100.0 * p['resolved_share']),
            str(p['hot_after']), str(p['migrations']),
            str(p['off_unresolvable']), '%.1f' % p['moved_gib'],
            str(p['violations']),
            str(p['new_hotspots']), str(p['step_violations']),
            _ratio(p, 'migrations_vs_optimum'), _ratio(p, 'gib_vs_optimum')]


def _optimum_row(hosts, hot, o):
    share = o['resolved'] / o['resolvable'] if o['resolvable'] else 1.0
    status = 'optimum' if o['proven'] else 'optimum*'
    if not o.get('solved', True):
        return [str(hosts), status, '%.2f' % o['solve_s'], str(hot),
                str(o['resolvable'])] + ['-'] * 8 + ['n/a', 'n/a']
    return [str(hosts), status, '%.2f' % o['solve_s'], str(hot),
            str(o['resolvable']),
            '%d (%.1f%%)' % (o['resolved'], 100.0 * share), '-',
            str(o['migrations']), '0', '%.1f' % o['moved_gib'],
            str(o['violations']), '-', '-', '1.00', '1.00']


def _optimum_cell(opt):
    if opt is None:
        return '-'
    if opt['status'] == 'no solution':
        return 'no solution in %.0fs' % opt['solve_s']
    text = '%s, %d migr, %.1fs' % (opt['status'], opt['migrations'],
                                   opt['solve_s'])
    if opt['status'] != 'optimal' and opt['migrations_bound']:
        text += ', lower bound %d migr' % opt['migrations_bound']
    return text


def format_text(results):
    st = results['settings']
    strategy = st['strategy']
    steps = ', '.join(
        ('step %d' % s['step']) if s['selection_hot_share'] is None
        else '%s = step %d (%.1f%% hot)' % (
            s['label'], s['step'], 100.0 * s['selection_hot_share'])
        for s in st['steps'])
    thr = st['thresholds']
    lines = [
        'nova-drs bench: strategy %s vs greedy baseline, PlanetLab day %s'
        % (strategy, st['day']),
        'scenarios per size: %s; seeds %d..%d' % (
            steps, st['seed'], st['seed'] + len(st['steps']) - 1),
        'thresholds: cpu %.2f, memory %.2f, disk %.2f, network %.2f; '
        'hosts 8 cores, 64 GiB, ratios 4.0/1.5'
        % tuple(thr),
        ('(trace steps ranked by the share of hot hosts on a %d-host '
         'cluster; pN = Nth percentile of that share)'
         % st['selection_hosts']) if st['steps'][0]['label'] != 'step'
        else '(trace steps given with --steps)',
        'figures are sums over the scenarios; "plan s" is the worst '
        "scenario's median of %s runs on one pinned core"
        % '/'.join(sorted(set(str(v) for v in st['runs'].values()))),
        '']
    rows = [list(HEADER)]
    for entry in results['sizes']:
        s = entry['summary']
        hosts = entry['hosts']
        rows.append(_planner_row(hosts, strategy, s[strategy]))
        if greedy.NAME in s:
            rows.append(_planner_row(hosts, greedy.NAME, s[greedy.NAME]))
        if 'optimum' in s:
            rows.append(_optimum_row(hosts, s[strategy]['hot_before'],
                                     s['optimum']))
    lines += table(rows, LEFT)
    lines.append('')
    lines.append('optimum: exact MILP (HiGHS) over moves off hot hosts only, '
                 'one move per instance, no make-room chains (a planner using '
                 'chains may beat it); "plan s" is its solve time; '
                 'optimum* = time limit hit: best solution found, not '
                 'proven optimal (or none found).')
    lines.append('resolvable: hot hosts holding no instance whose own load '
                 'exceeds a threshold; off unres = migrations off hot hosts '
                 'that are not resolvable (futile, or bringing a saturated '
                 'one back under its capacity; not compared with the '
                 'optimum, which relieves resolvable hosts only); viol = '
                 'hosts over '
                 'allocation limits or newly hot after the plan; step viol = '
                 'migrations whose destination is over a limit when they '
                 'run.')

    lines.append('')
    rows = [['hosts', 'scenario', 'step', 'seed', 'instances', 'hot share',
             'peak RSS MiB', 'speed', strategy + ' s', 'greedy s',
             'optimum']]
    for entry in results['sizes']:
        for sc in entry['scenarios']:
            opt = sc['optimum']
            rows.append([
                str(sc['hosts']), sc['label'], str(sc['step']),
                str(sc['seed']), str(sc['instances']),
                '%.1f%%' % (100.0 * sc['hot_share']),
                '%.0f' % sc['rss_peak_mib'],
                '%.2f' % sc.get('speed_factor', 1.0),
                '%.4f' % sc['planners'][strategy]['plan_s_median'],
                ('%.4f' % sc['planners'][greedy.NAME]['plan_s_median']
                 if greedy.NAME in sc['planners'] else '-'),
                _optimum_cell(opt)])
    lines += table(rows, {1, 10})
    lines.append('speed = machine-speed factor on the planning core '
                 '(nova_drs.machine_speed: a fixed numpy workload timed '
                 'between the runs, over its time on a quiet CI machine, '
                 'at least 1.00); plan times are CPU seconds on one core, '
                 'median of the runs, divided by it.')

    lines.append('')
    lines.append('targets of %s (FAIL = missed target, exit code 1; '
                 'info = aim or context, never fails):' % strategy)
    rows = [['result', 'hosts', 'target', 'figures']]
    for t in results['targets']:
        verdict = ('PASS' if t['passed'] else 'FAIL') if t['enforced'] \
            else ('info:yes' if t['passed'] else 'info:no')
        rows.append([verdict, str(t['hosts']), t['name'], t['value']])
    lines += table(rows, {0, 2, 3})
    if results.get('growth_ratio') is not None:
        lines.append('')
        lines.append('growth ratio (planning time per host at the largest '
                     'size / at 10,000 hosts; 1.00 = linear): %.2f'
                     % results['growth_ratio'])
    missed = [t for t in results['targets']
              if t['enforced'] and not t['passed']]
    lines.append('')
    if missed:
        lines.append('RESULT: %d target(s) missed: %s' % (
            len(missed), '; '.join('%s at %d hosts' % (t['name'], t['hosts'])
                                   for t in missed)))
    else:
        lines.append('RESULT: all targets met')
    return '\n'.join(lines) + '\n'
