# SPDX-License-Identifier: Apache-2.0
"""Simulation output: the terminal table, the JSON file, the HTML report.

The report directory holds ``index.html`` (input, table, settings,
plots; the jinja2 template ``templates/report.html``), ``results.json``
(the same as ``--json``) and the PNG plots of :mod:`.plots`.
"""

import json
import os

import numpy as np

#: (JSON key, column title, format) of the table, in order.
COLUMNS = (
    ('overload_time_fraction', 'SLATAH %', lambda v: '%.3f' % (100 * v)),
    ('hotspot_host_time_fraction', 'hotspot %', lambda v: '%.2f' % (100 * v)),
    ('pdm', 'PDM %', lambda v: '%.5f' % (100 * v)),
    ('slav', 'SLAV', lambda v: '%.2e' % v),
    ('migrations', 'migr', lambda v: '%d' % v),
    ('migrations_unsuccessful', 'failed', lambda v: '%d' % v),
    ('recommended_migrations', 'recommended', lambda v: '%d' % v),
    ('gib_moved', 'GiB moved', lambda v: '%.1f' % v),
    ('mean_active_hosts', 'active hosts', lambda v: '%.1f' % v),
    ('hosts_freed', 'freed', lambda v: '%d' % v),
    ('energy_kwh', 'energy kWh', lambda v: '%.1f' % v),
    ('retrigger_share', 're-hot %', lambda v: '%.1f' % (100 * v)),
    ('destination_retrigger_share', 'dest re-hot %',
     lambda v: '%.1f' % (100 * v)),
    ('memory_reclaimed_gib', 'reclaimed GiB', lambda v: '%.1f' % v),
    ('swap_gib_h', 'swap GiB h', lambda v: '%.2f' % v),
    ('pressure_events', 'pressure', lambda v: '%d' % v),
    ('unplaced_instances', 'unplaced', lambda v: '%d' % v),
    ('wall_s', 'wall s', lambda v: '%.1f' % v),
)

LEGEND = (
    'SLATAH = share of active host-time with CPU demand >= 100% of the '
    'physical cores or guest memory swapped (beyond the host\'s RAM); '
    'hotspot = share of active host-time above a [drs] '
    'threshold; PDM = mean over instances of 10% of the CPU used while '
    'migrating (or paused) / CPU requested; SLAV = SLATAH x PDM; failed = '
    'migrations aborted at Nova\'s completion timeout or failed; '
    'recommended = moves the mode left as recommendations (not applied); '
    'active hosts = '
    'hosts holding an instance (mean); freed = hosts active at the start '
    'and empty at the end; energy = linear power model, idle + (full - '
    'idle) x CPU load per active host, empty hosts off ([drs_balancer] '
    'host_power_idle_w/full_w); re-hot = relieved hosts hot again '
    'within 300 s (dest: destinations); reclaimed = host '
    'memory ballooning saved (mean, capped at the host\'s RAM); '
    'swap = guest memory beyond a host\'s RAM, GiB x hours; pressure = '
    'guest-ticks (10 s) with the working set above the balloon.')


def rows(results):
    out = [['strategy'] + [c[1] for c in COLUMNS]]
    for name, metrics in results['strategies'].items():
        row = [name]
        for key, _title, fmt in COLUMNS:
            value = metrics.get(key)
            row.append('-' if value is None else fmt(value))
        out.append(row)
    return out


def summary(results):
    i = results['input']
    h = i['hosts']
    parts = ['%s trace %s: %d instances (%d unplaced), %d samples of %g '
             's (%.1f h), agents every %g s, measured every %g s, seed %d'
             % (i['trace'], i.get('day') or i['trace_dir'],
                i['instances'] + i['unplaced_instances'],
                i['unplaced_instances'], i['steps'],
                i.get('history_interval_s', i['interval_s']),
                i['duration_h'], i['interval_s'],
                i.get('measure_interval_s', i['interval_s']), i['seed']),
             '%s; balloon %s' % (_hosts_text(h),
                                 i['balloon_policy'] or 'off')]
    if i.get('thresholds'):
        parts.append('[drs] thresholds: %s' % ', '.join(
            '%s %g' % kv for kv in i['thresholds'].items()))
    if i.get('mode'):
        parts.append(_mode_text(i))
    if i.get('consolidation'):
        parts.append(_consolidation_text(i['consolidation']))
        parts += _consolidation_runs(results)
    parts += _maintenance_runs(results)
    parts += ['note: %s' % n for n in i.get('notes', [])]
    reasons = {}
    for skipped in i.get('vms_skipped', []):
        reasons.setdefault(skipped['reason'], []).append(skipped['name'])
    for reason, names in sorted(reasons.items()):
        parts.append('note: %d VM(s) of the trace skipped, %s: %s%s' % (
            len(names), reason, ', '.join(names[:5]),
            ', ...' if len(names) > 5 else ''))
    if i['unplaced_instances']:
        parts.append('unplaced (no host had room at boot): %s%s' % (
            ', '.join(i['unplaced_names']),
            ', ...' if i['unplaced_instances'] > len(i['unplaced_names'])
            else ''))
    return parts


def _mode_text(i):
    """The balancer's mode and the executor's limits in one line."""
    return ('balancer mode %s (the service\'s Planner and executor rules); '
            'at most %d migrations at once, %d per host'
            % (i['mode'], i['max_migrations'], i['max_host_migrations']))


def _consolidation_text(c):
    """The consolidation pass's settings in one line."""
    if not c['interval_s']:
        return ('consolidation pass off ([drs_balancer] '
                'consolidation_interval 0; --consolidation-interval)')
    return ('consolidation pass every %g s on the guests\' peaks over %g s '
            '(the first once the run has lasted that long), freed hosts '
            '%s' % (c['interval_s'], c['peak_window_s'],
                    'disabled' if c['disable_freed_hosts']
                    else 'left enabled'))


def _consolidation_runs(results):
    """Per strategy, what its consolidation passes did, or why none ran."""
    out = []
    for name, m in results['strategies'].items():
        if 'consolidation_passes' not in m:
            continue
        if m.get('consolidation_note'):
            out.append('%s: %s' % (name, m['consolidation_note']))
            continue
        skipped = ', '.join('%s %d' % kv for kv in
                            m['consolidation_skipped'].items()) or 'none'
        out.append(
            '%s: consolidation: %d pass(es) planned %d plan(s) applied '
            '(%d migrations, %d hosts emptied; %d migrations only '
            'recommended); skipped: %s; hosts disabled %d, enabled again '
            '%d; consolidation destinations hot within the window %d' % (
                name, m['consolidation_passes'], m['consolidation_plans'],
                m['consolidation_migrations'],
                m['consolidation_hosts_emptied'],
                m['consolidation_recommended'], skipped,
                m['hosts_disabled'], m['hosts_enabled_again'],
                m['consolidation_hotspots_created']))
    return out


def _maintenance_runs(results):
    """Per strategy and maintenance window: how the evacuation went."""
    out = []
    for name, m in results['strategies'].items():
        for w in m.get('maintenance', ()):
            window = '%s from %gs%s' % (
                w['host'], w['start_s'],
                '' if w['end_s'] is None else ' to %gs' % w['end_s'])
            if w['emptied_s'] is None:
                done = 'NOT emptied'
            else:
                done = 'empty after %.0f s' % w['evacuation_s']
            stayed = '; '.join('%s: %s' % kv
                               for kv in sorted(w['left'].items()))
            out.append('%s: maintenance of %s: %s%s%s' % (
                name, window, done,
                '; left by the planner: %s' % stayed if stayed else '',
                '; %d move(s) found no host (Nova: NoValidHost)'
                % m['migrations_no_valid_host']
                if m.get('migrations_no_valid_host') else ''))
    return out


def _consolidation_value(i):
    c = i.get('consolidation')
    if not c:
        return '-'
    if not c['interval_s']:
        return 'off'
    return 'every %g s, peak window %g s, disable freed hosts %s' % (
        c['interval_s'], c['peak_window_s'],
        _value(c['disable_freed_hosts']))


def _hosts_text(h):
    """The hosts in one line: identical ones, or a snapshot's kinds."""
    if 'kinds' in h:
        # a snapshot's hosts (scenario.describe_hosts), maybe of several
        # sizes
        return '%d hosts from snapshot %s: %s%s' % (
            h['count'], h.get('snapshot', '-'), '; '.join(h['kinds']),
            ' (%d disabled)' % h['disabled'] if h.get('disabled') else '')
    return ('%d hosts of %d cores, %d MiB (%d reserved), allocation ratios '
            '%g/%g%s' % (
                h['count'], h['vcpus'], h['memory_mb'],
                h['reserved_host_memory_mb'], h['cpu_allocation_ratio'],
                h['ram_allocation_ratio'],
                ', disk %g MB/s, network %g MB/s' % (
                    h['disk_mb_s'], h['net_mb_s'])
                if h['disk_mb_s'] or h['net_mb_s'] else ''))


def _value(value):
    if value is None:
        return 'not set'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return '%g' % value
    if isinstance(value, (list, tuple)):
        return ', '.join(_value(v) for v in value) or 'none'
    return str(value)


def _policies(names, conf_settings):
    """(strategy, its destination policy, where that comes from)."""
    option = conf_settings.get('drs_balancer', {}).get(
        'destination_policy')
    out = []
    for name in names:
        base, _, policy = name.partition(':')
        if policy:
            out.append((name, policy, 'strategy name'))
        elif base == 'none' or option is None:
            out.append((name, '-', 'no migrations'))
        else:
            out.append((name, _value(option['value']),
                        '[drs_balancer] destination_policy'))
    return out


def settings(results):
    """The settings that decided the outcome, for the page.

    :returns: [(section title, [(setting, value, source)])]: the run (trace,
        seed, strategies and their destination policies), the hosts, the
        simulator's own options, then every configuration option the
        simulation read, per group, with where its value comes from
        (recorded by :class:`~.settings.RecordingConf`).
    """
    i = results['input']
    conf_settings = i.get('settings', {})
    run = [
        ('trace', i['trace'], 'trace_dir: %s' % i['trace_dir']),
        ('day', i.get('day') or '-', ''),
        ('trace sample interval', '%g s' % i.get(
            'trace_interval_s', i['interval_s']), ''),
        ('agent interval', '%g s' % i['interval_s'],
         '%d trace samples, %.1f h' % (i['steps'], i['duration_h'])),
        ('interpolation', i.get('interpolation', '-'),
         'linear: between the ends of the sample intervals'),
        ('measurement grid', '%g s' % i.get(
            'measure_interval_s', i['interval_s']),
         'SLA and hotspot time integrated on it'),
        ('planning interval', '%g s' % i.get(
            'planning_interval_s', 0.0), 'and at once on a new hotspot'),
        ('balancer mode', i.get('mode', '-'),
         'the service\'s Planner; --mode, else [drs_balancer] mode'),
        ('consolidation pass', _consolidation_value(i),
         '--consolidation-interval/--consolidation-peak-window/'
         '--disable-freed-hosts, else [drs_balancer]'),
        ('migrations at once', '%s, %s per host' % (
            i.get('max_migrations', '-'), i.get('max_host_migrations', '-')),
         'the executor\'s limits; --max-migrations/--max-host-migrations, '
         'else [drs_actuator]'),
        ('seed', _value(i['seed']), 'trace mapping, memory model'
         if 'snapshot' in i else 'flavors, memory model, boot order'),
        ('config files', _value(i.get('config_files', [])), ''),
    ]
    snap = i.get('snapshot')
    if snap:
        run.append(('snapshot', snap['file'], '%d server groups, %d '
                    'instances opted out, zones %s' % (
                        snap['server_groups'], snap['opted_out_instances'],
                        _value(snap['availability_zones']))))
    names = i.get('strategies') or list(results['strategies'])
    run += [('strategy %s' % name, 'destination policy %s' % policy,
             source) for name, policy, source in _policies(
                 names, conf_settings)]
    hosts = [(key, _value(value), '') for key, value in i['hosts'].items()
             if key != 'kinds']
    # a snapshot's hosts: one row per size, each a text of its own
    hosts += [('size', kind, '') for kind in i['hosts'].get('kinds', ())]
    options = [(key, _value(value), '')
               for key, value in i.get('options', {}).items()]
    out = [('Run', run), ('Hosts', hosts),
           ('Simulator options (not in the configuration)', options)]
    for group, opts in conf_settings.items():
        out.append(('[%s] (read by the simulation)' % group, [
            (name, _value(o['value']), o['source'])
            for name, o in opts.items()]))
    return out


def format_table(results):
    table = rows(results)
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    lines = summary(results) + ['']
    for r in table:
        lines.append('  '.join(
            (cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c]))
            for c, cell in enumerate(r)).rstrip())
    lines += ['', LEGEND]
    return '\n'.join(lines) + '\n'


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError('not serialisable: %r' % (value,))


def dumps(results):
    return json.dumps(results, indent=1, default=_json_default) + '\n'


def write_json(results, path):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(dumps(results))


def _template():
    # NOTE: jinja2 is part of the sim extra; autoescape: trace, host and
    # strategy names in the page come from the user
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader('nova_drs.simulator', 'templates'),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)
    return env.get_template('report.html')


def render_html(results, figures):
    """The text of ``index.html``; ``figures`` is [(file name, caption)]."""
    table = rows(results)
    return _template().render(
        summary=summary(results), header=table[0], rows=table[1:],
        legend=LEGEND, figures=figures, settings=settings(results))


def write_html(results, directory, figures):
    """Write ``index.html``; ``figures`` is [(file name, caption)]."""
    path = os.path.join(directory, 'index.html')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(render_html(results, figures))
    return path


def write_report(results, histories, directory, host_rows_limit=None):
    """Write the whole report; return the path of ``index.html``.

    :param host_rows_limit: hosts above which the host-load plot shows
        percentile bands (:data:`.plots.HOST_ROWS_LIMIT` by default).
    """
    from nova_drs.simulator import plots

    os.makedirs(directory, exist_ok=True)
    write_json(results, os.path.join(directory, 'results.json'))
    figures = plots.write_all(results, histories, directory,
                              host_rows_limit)
    return write_html(results, directory, figures)
