# SPDX-License-Identifier: Apache-2.0
"""The ``nova-drs simulate`` subcommand: options, checks and output.

Exit codes: 0 done, 1 the benchmark (``--bench``) missed its target,
2 bad input (one line on standard error, no traceback).
"""

import math
import os
import sys

from nova_drs.cmd import common
from nova_drs.simulator import engine
from nova_drs.simulator import precopy
from nova_drs.simulator import traces

DEFAULT_STRATEGIES = 'none,hotspot,balance'
DEFAULT_REPORT = 'nova-drs-report'
ON_OFF = ('on', 'off')
#: destination policies a strategy name may carry (``hotspot:spread``)
POLICIES = ('pack', 'spread')


def _number(kind, option, minimum=0, exclusive=False, maximum=None):
    """An argparse type: a number of ``kind`` within bounds.

    At least (above, when ``exclusive``) ``minimum``, and at most
    ``maximum`` when given.
    """
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise common.CommandError('%s: %r is not a %s' % (
                option, text, 'whole number' if kind is int else 'number'))
        if not math.isfinite(value):
            raise common.CommandError('%s: %r is not a finite number'
                                      % (option, text))
        if value < minimum or (exclusive and value <= minimum):
            raise common.CommandError('%s: must be %s %s, got %s' % (
                option, 'greater than' if exclusive else 'at least',
                minimum, text))
        if maximum is not None and value > maximum:
            raise common.CommandError('%s: must be at most %s, got %s'
                                      % (option, maximum, text))
        return value
    return parse


def parse_strategies(text, conf):
    from nova_drs.balancer import strategies

    names = []
    for part in (text or '').split(','):
        part = part.strip()
        if part and part not in names:
            names.append(part)
    if not names:
        raise common.CommandError('--strategies: give at least one strategy '
                                  '(e.g. %s)' % DEFAULT_STRATEGIES)
    for name in names:
        base, colon, policy = name.partition(':')
        if colon and policy not in POLICIES:
            raise common.CommandError(
                '--strategies: %r: the part after ":" is a destination '
                'policy, one of %s' % (name, ', '.join(POLICIES)))
        if base == engine.NONE:
            continue
        try:
            strategies.load(base, conf)
        except strategies.StrategyNotFound as e:
            raise common.CommandError('--strategies: %s (or "none")' % e)
    return names


def add_parser(sub, add_config_args, load_conf):
    p = sub.add_parser(
        'simulate', help='Replay workload traces through the balancer and '
                         'the balloon policy.',
        description='Replay real utilisation traces (PlanetLab, Bitbrains) '
                    'on a simulated cluster through the production hotspot '
                    'detector, balancing strategies and balloon policy, '
                    'and report SLA and migration metrics per strategy. '
                    'Without arguments it replays the bundled sample. '
                    'See doc/source/simulator.rst.')
    p.add_argument('--trace', choices=traces.KINDS, default=traces.PLANETLAB,
                   help='Trace format (default planetlab).')
    p.add_argument('--trace-dir', metavar='DIR',
                   help='Traces root, trace folder or folder of VM files '
                        '(default: the sample bundled with nova-drs).')
    p.add_argument('--day', metavar='DAY',
                   help='PlanetLab day folder, e.g. 20110303 (Bitbrains: '
                        'month folder, e.g. 2013-7); default the first.')
    p.add_argument('--trace-interval', metavar='SECONDS',
                   type=_number(float, '--trace-interval', exclusive=True),
                   help='Seconds between the samples of a PlanetLab file '
                        '(default: the day divided by the number of '
                        'samples, 300 for CoMon\'s 288). Bitbrains files '
                        'carry timestamps: their period is read from '
                        'them, and a value given here that is not that '
                        'period is an error.')
    p.add_argument('--snapshot', metavar='FILE',
                   help='Simulate this cluster: a snapshot from "nova-drs '
                        'snapshot export" (doc/source/snapshot-format.rst). '
                        'Its hosts (sizes, reserved resources, allocation '
                        'ratios, zones, aggregates, disabled), its '
                        'instances where they are (flavors, server groups, '
                        'opt-outs) replay the trace\'s VMs, drawn for them '
                        'by --seed (see doc/source/simulator.rst). Not '
                        'with the host options (--hosts, --host-vcpus...).')
    p.add_argument('--hosts', type=_number(int, '--hosts', 1), metavar='N',
                   help='Number of hosts (default: enough for every '
                        'instance packed, plus 50%%).')
    p.add_argument('--host-vcpus', type=_number(int, '--host-vcpus', 1),
                   metavar='N', help='Physical cores per host (default 8 '
                                     'for PlanetLab, 16 for Bitbrains).')
    p.add_argument('--host-memory-mb',
                   type=_number(int, '--host-memory-mb', 1), metavar='N',
                   help='Memory per host, MiB (default 65536 for '
                        'PlanetLab, 131072 for Bitbrains).')
    p.add_argument('--reserved-host-memory-mb',
                   type=_number(int, '--reserved-host-memory-mb'),
                   metavar='N', help='Memory kept for the host, MiB '
                                     '(default 512; Bitbrains 1024).')
    p.add_argument('--cpu-allocation-ratio',
                   type=_number(float, '--cpu-allocation-ratio',
                                exclusive=True),
                   metavar='X', help='Placement CPU allocation ratio '
                                     '(default 4.0).')
    p.add_argument('--ram-allocation-ratio',
                   type=_number(float, '--ram-allocation-ratio',
                                exclusive=True),
                   metavar='X', help='Placement RAM allocation ratio '
                                     '(default 1.5).')
    p.add_argument('--host-disk-mb-s',
                   type=_number(float, '--host-disk-mb-s'),
                   metavar='X', help='Disk bandwidth per host, MB/s, for '
                                     'traces with disk data (default 500).')
    p.add_argument('--host-net-mb-s',
                   type=_number(float, '--host-net-mb-s'),
                   metavar='X', help='Network bandwidth per host, MB/s, for '
                                     'traces with network data (default '
                                     '1250).')
    p.add_argument('--strategies', default=DEFAULT_STRATEGIES,
                   metavar='NAME,...',
                   help='Strategies to compare on the same input; "none" '
                        'never migrates; NAME:pack or NAME:spread runs a '
                        'strategy with that [drs_balancer] '
                        'destination_policy (default %s).'
                        % DEFAULT_STRATEGIES)
    p.add_argument('--balloon', choices=ON_OFF, default='on',
                   help='Run the [drs_balloon] policy (default on).')
    p.add_argument('--free-page-reporting', choices=ON_OFF, default='off',
                   help='Guests return free pages to the host (default '
                        'off).')
    p.add_argument('--page-cache-growth',
                   type=_number(float, '--page-cache-growth'),
                   default=engine.Options.page_cache_growth, metavar='X',
                   help='Guest page cache growth, share of flavor memory '
                        'per hour (default %(default)s).')
    p.add_argument('--interval',
                   type=_number(float, '--interval', exclusive=True),
                   metavar='SECONDS',
                   help="Agent interval in simulated seconds: the agents "
                        'sample, publish and balloon every SECONDS (the '
                        "service's [drs_agent] interval; default: the "
                        "trace's sample interval, 300 for PlanetLab). The "
                        'load between trace samples is interpolated and '
                        'the metrics are measured every 10 s whatever the '
                        'interval.')
    p.add_argument('--planning-interval',
                   type=_number(float, '--planning-interval',
                                exclusive=True),
                   metavar='SECONDS',
                   help='Seconds of simulated time between two periodic '
                        'planning cycles; a new hotspot starts one at once '
                        '(default: [drs_balancer] planning_interval).')
    p.add_argument('--consolidation-interval',
                   type=_number(float, '--consolidation-interval',
                                maximum=7 * 24 * 3600),
                   metavar='SECONDS',
                   help='Seconds of simulated time between two '
                        'consolidation passes, as the service runs them '
                        '(the consolidate strategy through the service\'s '
                        'Planner, never while a host is hot, applied in '
                        'full mode only, the first once the peaks cover '
                        'the peak window); 0: none (default: '
                        '[drs_balancer] consolidation_interval).')
    p.add_argument('--consolidation-peak-window',
                   type=_number(float, '--consolidation-peak-window', 300,
                                maximum=7 * 24 * 3600),
                   metavar='SECONDS',
                   help='Seconds of history the consolidation pass packs '
                        'guests by their peaks over; no pass before the '
                        'simulation has run this long (default: '
                        '[drs_balancer] consolidation_peak_window, a day).')
    p.add_argument('--disable-freed-hosts', choices=ON_OFF, default=None,
                   help='Disable the hosts a consolidation plan emptied '
                        '(never a destination until a hotspot needs one '
                        'again) (default: [drs_balancer] '
                        'disable_freed_hosts).')
    p.add_argument('--maintenance', action='append', default=[],
                   metavar='HOST@START[-END]',
                   help='A maintenance window: from START to END (seconds '
                        'from the start of the trace, or HH:MM; no END: '
                        'to the end) the host\'s nova-compute service is '
                        'disabled with a reason starting with '
                        '[drs_balancer] maintenance_reason_prefix, and the '
                        'balancer evacuates it as the service does (in '
                        'full and partial mode). Repeat for several. The '
                        'summary says when each host was empty and what '
                        'stayed.')
    p.add_argument('--seed', type=_number(int, '--seed'), default=0,
                   help='Seed of flavors, memory model and boot order '
                        '(default 0).')
    p.add_argument('--mode', choices=engine.MODES, default=None,
                   help='The balancer\'s mode, as an operator sets it '
                        'through the API: full applies every plan, partial '
                        'only the moves off hosts above the severe '
                        'thresholds, manual nothing (the rest is counted as '
                        'recommended). Default: [drs_balancer] mode, as in '
                        'the service.')
    p.add_argument('--max-migrations',
                   type=_number(int, '--max-migrations', 1),
                   default=None, metavar='N',
                   help='Live migrations running at once in the cluster '
                        '(default: [drs_actuator] '
                        'max_concurrent_migrations).')
    p.add_argument('--max-host-migrations',
                   type=_number(int, '--max-host-migrations', 1),
                   default=None, metavar='N',
                   help='Live migrations running at once per host, as '
                        'source or target (default: [drs_actuator] '
                        'max_concurrent_migrations_per_host).')
    p.add_argument('--migration-cpu-overhead',
                   type=_number(float, '--migration-cpu-overhead'),
                   default=engine.Options.migration_cpu_overhead,
                   metavar='CORES',
                   help='Cores a running migration costs its source and its '
                        'target (default %(default)s).')
    _add_migration_args(p)
    p.add_argument('--balance-every', type=_number(int, '--balance-every', 1),
                   default=engine.Options.balance_every, metavar='N',
                   help='The balance strategy plans every N planning '
                        'cycles, and at every one with a hotspot (default '
                        '%(default)s).')
    p.add_argument('--report', metavar='DIR',
                   help='Write index.html, results.json and PNG plots here '
                        '(default ./%s).' % DEFAULT_REPORT)
    p.add_argument('--no-report', action='store_true',
                   help='Write no report directory.')
    p.add_argument('--json', metavar='FILE',
                   help='Write the input and the metrics as JSON.')
    p.add_argument('--bench', action='store_true',
                   help='Run the simulator benchmark instead: a whole '
                        'PlanetLab day on 200 hosts with none, hotspot and '
                        'balance; exit code 1 when slower than 60 s.')
    p.add_argument('--pack-bench', action='store_true',
                   help='Run the packing benchmark instead: hotspot with '
                        'destination_policy pack against spread and no '
                        'balancing on PlanetLab days (active hosts, '
                        'energy, hotspot time, SLATAH, re-triggers); exit '
                        'code 1 when a target is missed.')
    p.add_argument('--pack-days', metavar='DAY,...',
                   help='Days of the packing benchmark (default '
                        '20110306,20110309).')
    p.add_argument('--pack-hosts', metavar='N,...',
                   help='Cluster sizes of the packing benchmark (default '
                        '150,200).')
    add_config_args(p)
    p.set_defaults(func=lambda args: cmd_simulate(args, load_conf))
    return p


def _add_migration_args(p):
    """Pre-copy and Nova's [libvirt] live-migration settings."""
    nova = precopy.Config
    p.add_argument('--host-link-mb-s',
                   type=_number(float, '--host-link-mb-s'),
                   default=nova.host_link_mb_s, metavar='X',
                   help='Migration bandwidth of one host, MB/s, shared '
                        'equally by the migrations running on it as source '
                        'or target (default: [drs_balancer] '
                        'migration_bandwidth_mb_s).')
    p.add_argument('--cluster-link-mb-s',
                   type=_number(float, '--cluster-link-mb-s'),
                   default=nova.cluster_link_mb_s, metavar='X',
                   help='Migration bandwidth of the whole cluster, MB/s, '
                        'shared equally by all running migrations; 0 '
                        'for no such limit (default %(default)s).')
    p.add_argument('--live-migration-completion-timeout',
                   type=_number(int, '--live-migration-completion-timeout'),
                   default=nova.live_migration_completion_timeout,
                   metavar='SECONDS',
                   help="Nova's [libvirt] option: seconds per GiB of guest "
                        'memory (at least 2 GiB) a migration may take '
                        'before the timeout action; 0 disables (default '
                        '%(default)s, as Nova).')
    p.add_argument('--live-migration-timeout-action',
                   choices=precopy.TIMEOUT_ACTIONS,
                   default=nova.live_migration_timeout_action,
                   help="Nova's [libvirt] option: abort the migration (the "
                        'guest stays on its source) or force it to complete '
                        '(the guest is paused while the rest is sent) '
                        '(default %(default)s, as Nova).')
    p.add_argument('--live-migration-downtime',
                   type=_number(int, '--live-migration-downtime', 100),
                   default=nova.live_migration_downtime, metavar='MS',
                   help="Nova's [libvirt] option: largest downtime allowed "
                        'at the switchover, ms (default %(default)s, as '
                        'Nova).')
    p.add_argument('--live-migration-downtime-steps',
                   type=_number(int, '--live-migration-downtime-steps', 3),
                   default=nova.live_migration_downtime_steps, metavar='N',
                   help="Nova's [libvirt] option: steps by which the "
                        'allowed downtime rises to its largest value '
                        '(default %(default)s, as Nova).')
    p.add_argument('--live-migration-downtime-delay',
                   type=_number(int, '--live-migration-downtime-delay', 3),
                   default=nova.live_migration_downtime_delay,
                   metavar='SECONDS',
                   help="Nova's [libvirt] option: seconds per GiB of guest "
                        'memory between two downtime steps (default '
                        '%(default)s, as Nova).')
    p.add_argument('--migration-failure-rate',
                   type=_number(float, '--migration-failure-rate',
                                maximum=1.0),
                   default=nova.failure_rate, metavar='P',
                   help='Share of live migrations that fail, 0 to 1, drawn '
                        'from --seed (default %(default)s).')


def _check_output(args):
    if args.json:
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            raise common.CommandError('cannot write %s: no directory %s'
                                      % (args.json, parent))
    if args.no_report:
        return None
    report_dir = args.report or DEFAULT_REPORT
    if os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise common.CommandError('--report: %s exists and is not a directory'
                                  % report_dir)
    try:
        os.makedirs(report_dir, exist_ok=True)
    except OSError as e:
        raise common.CommandError('cannot create report directory %s: %s'
                                  % (report_dir, e.strerror or e))
    return report_dir


def options_from_args(args):
    return engine.Options(
        balloon=args.balloon == 'on',
        free_page_reporting=args.free_page_reporting == 'on',
        page_cache_growth=args.page_cache_growth,
        max_migrations=args.max_migrations,
        max_host_migrations=args.max_host_migrations,
        mode=getattr(args, 'mode', None),
        migration_cpu_overhead=args.migration_cpu_overhead,
        balance_every=args.balance_every,
        planning_interval_s=getattr(args, 'planning_interval', None),
        consolidation_interval_s=getattr(args, 'consolidation_interval',
                                         None),
        consolidation_peak_window_s=getattr(
            args, 'consolidation_peak_window', None),
        disable_freed_hosts=(None if getattr(args, 'disable_freed_hosts',
                                             None) is None
                             else args.disable_freed_hosts == 'on'),
        maintenance=_maintenance(getattr(args, 'maintenance', None) or []),
        migration=precopy.Config(
            host_link_mb_s=args.host_link_mb_s,
            cluster_link_mb_s=args.cluster_link_mb_s,
            live_migration_completion_timeout=(
                args.live_migration_completion_timeout),
            live_migration_timeout_action=args.live_migration_timeout_action,
            live_migration_downtime=args.live_migration_downtime,
            live_migration_downtime_steps=args.live_migration_downtime_steps,
            live_migration_downtime_delay=args.live_migration_downtime_delay,
            failure_rate=args.migration_failure_rate, seed=args.seed))


def _maintenance(specs):
    from nova_drs.simulator import maintenance

    try:
        return maintenance.parse(specs)
    except maintenance.SpecError as e:
        raise common.CommandError('--maintenance: %s' % e)


def spec_from_args(args):
    from nova_drs.simulator import scenario

    spec = scenario.host_spec(
        args.trace, args.hosts, vcpus=args.host_vcpus,
        memory_mb=args.host_memory_mb,
        reserved_host_memory_mb=args.reserved_host_memory_mb,
        cpu_allocation_ratio=args.cpu_allocation_ratio,
        ram_allocation_ratio=args.ram_allocation_ratio,
        disk_mb_s=args.host_disk_mb_s, net_mb_s=args.host_net_mb_s)
    if spec.reserved_host_memory_mb >= spec.memory_mb:
        raise common.CommandError(
            '--reserved-host-memory-mb (%d) must be less than the host '
            'memory (%d MiB)' % (spec.reserved_host_memory_mb,
                                 spec.memory_mb))
    return spec


#: the options that describe generated hosts: a snapshot has its own
HOST_OPTIONS = ('hosts', 'host_vcpus', 'host_memory_mb',
                'reserved_host_memory_mb', 'cpu_allocation_ratio',
                'ram_allocation_ratio', 'host_disk_mb_s', 'host_net_mb_s')


def load_snapshot(args):
    """The snapshot's model; CommandError when it cannot be simulated."""
    given = ['--' + o.replace('_', '-') for o in HOST_OPTIONS
             if getattr(args, o, None) is not None]
    if given:
        raise common.CommandError(
            '%s: not with --snapshot (the snapshot\'s hosts are simulated)'
            % ', '.join(given))
    model = common.load_snapshot(args.snapshot)
    if not len(model.instances):
        raise common.CommandError('%s: the snapshot has no instances to '
                                  'simulate' % args.snapshot)
    return model


def _build(args, conf, names, model, spec):
    """The scenario: the trace on a snapshot's ``model`` or on ``spec``."""
    from nova_drs.simulator import locate
    from nova_drs.simulator import scenario

    directory, day = locate.find(args.trace, args.trace_dir, args.day)
    trace = traces.load(args.trace, directory, args.trace_interval)
    extra = {'day': day, 'sample': not args.trace_dir,
             'config_files': list(args.config_file), 'strategies': names}
    if model is not None:
        return scenario.build_snapshot(
            trace, model, args.snapshot, conf, options_from_args(args),
            seed=args.seed, interval_s=args.interval, extra_info=extra)
    return scenario.build(
        trace, spec, conf, options_from_args(args), seed=args.seed,
        interval_s=args.interval, extra_info=extra)


def _check_maintenance(simulation):
    """The maintenance windows name hosts of the simulated cluster."""
    from nova_drs.simulator import maintenance

    try:
        maintenance.Maintenance(simulation.options.maintenance,
                                simulation.hosts.names, '')
    except maintenance.SpecError as e:
        raise common.CommandError(str(e))


def cmd_simulate(args, load_conf):
    if args.snapshot and (args.bench or getattr(args, 'pack_bench', False)):
        # the benchmarks build their own clusters
        raise common.CommandError('--snapshot: not with --bench or '
                                  '--pack-bench')
    if args.bench:
        from nova_drs.simulator import bench
        return bench.cmd_bench(args, load_conf)
    if getattr(args, 'pack_bench', False):
        from nova_drs.simulator import packbench
        try:
            return packbench.cmd_pack_bench(args, load_conf)
        except (ValueError, traces.TraceError) as e:
            raise common.CommandError('--pack-bench: %s' % e)
    from nova_drs.simulator import progress as progress_mod
    from nova_drs.simulator import report
    from nova_drs.simulator import scenario

    conf = load_conf(args)
    names = parse_strategies(args.strategies, conf)
    try:
        engine.check_conf(conf)
    except ValueError as e:
        raise common.CommandError(str(e))
    # the hosts are checked before the output directory is made
    model = load_snapshot(args) if args.snapshot else None
    spec = None if model is not None else spec_from_args(args)
    report_dir = _check_output(args)
    try:
        scen = _build(args, conf, names, model, spec)
    except traces.TraceError as e:
        raise common.CommandError(str(e))
    _check_maintenance(scen.simulation)
    progress = progress_mod.Progress(scen.simulation.workload.steps
                                     * len(names))
    try:
        results, histories = scenario.run(scen, names, progress)
    finally:
        progress.close()
    sys.stdout.write(report.format_table(results))
    if args.json:
        try:
            report.write_json(results, args.json)
        except OSError as e:
            raise common.CommandError('cannot write %s: %s'
                                      % (args.json, e.strerror or e))
        sys.stdout.write('JSON: %s\n' % args.json)
    if report_dir:
        try:
            index = report.write_report(results, histories, report_dir)
        except OSError as e:
            raise common.CommandError('cannot write the report in %s: %s'
                                      % (report_dir, e.strerror or e))
        sys.stdout.write('report: %s\n' % os.path.abspath(index))
    return 0
