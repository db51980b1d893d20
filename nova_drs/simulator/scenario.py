# SPDX-License-Identifier: Apache-2.0
"""One simulation: a trace on a cluster, replayed under several strategies.

Every strategy of a run starts from the same input: same workload, same
seed, same initial placement.
"""

import dataclasses
import math

import numpy as np

from nova_drs import detector
from nova_drs.model import cluster
from nova_drs.simulator import consolidation
from nova_drs.simulator import engine
from nova_drs.simulator import placement
from nova_drs.simulator import settings
from nova_drs.simulator import traces
from nova_drs.simulator import workload as workload_mod

#: Host defaults per trace: PlanetLab's small VMs on the planning
#: benchmark's compute node; Bitbrains' larger business VMs (1-32
#: cores, mostly 1-8) on larger nodes, with disk and network tracked.
HOST_DEFAULTS = {
    traces.PLANETLAB: dict(vcpus=8, memory_mb=65536,
                           reserved_host_memory_mb=512,
                           cpu_allocation_ratio=4.0,
                           ram_allocation_ratio=1.5,
                           disk_mb_s=0.0, net_mb_s=0.0),
    traces.BITBRAINS: dict(vcpus=16, memory_mb=131072,
                           reserved_host_memory_mb=1024,
                           cpu_allocation_ratio=4.0,
                           ram_allocation_ratio=1.5,
                           disk_mb_s=500.0, net_mb_s=1250.0),
}

#: At most this many unplaced instance names go into the report.
MAX_LISTED = 20


@dataclasses.dataclass
class Scenario:
    simulation: engine.Simulation
    #: the hosts' :class:`~.placement.HostSpec`; None: a snapshot's hosts
    spec: placement.HostSpec
    unplaced: list
    info: dict


def host_spec(kind, count=None, **overrides):
    """A :class:`~.placement.HostSpec` with the trace's defaults."""
    values = dict(HOST_DEFAULTS[kind])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return placement.HostSpec(count=count or 0, **values)


def _options(options, seed, interval_s):
    """The run's engine options: the seed, and the agents' interval."""
    options = options or engine.Options()
    # migration failures are drawn from the simulation's seed too
    options = dataclasses.replace(options, migration=dataclasses.replace(
        options.migration, seed=seed))
    # NOTE: the trace stays at its own interval: the engine rebuilds the
    # load between samples (interpolation) and runs the agents every
    # interval_s of simulated time
    if interval_s:
        options = dataclasses.replace(options, agent_interval_s=interval_s)
    return options


def _run_info(trace, work, conf, options, seed):
    """What the report says of a run, whatever made its cluster."""
    agent_s = float(options.agent_interval_s or work.interval_s)
    return {
        'trace': trace.kind,
        'trace_dir': trace.source,
        'vms_in_trace': len(trace) + len(trace.skipped),
        'vms_skipped': [{'name': n, 'reason': r} for n, r in trace.skipped],
        'steps': work.steps,
        'trace_interval_s': trace.interval_s,
        # the agents' interval (the "simulation step" of the report)
        'interval_s': agent_s,
        # the rows of the history (one per trace sample)
        'history_interval_s': work.interval_s,
        'measure_interval_s': engine.tick_seconds(work.interval_s,
                                                  agent_s),
        'planning_interval_s': float(
            options.planning_interval_s
            or conf.drs_balancer.planning_interval),
        'interpolation': 'linear' if options.interpolate else 'hold',
        # the service's consolidation pass (0 s: off)
        'consolidation': dict(zip(
            ('interval_s', 'peak_window_s', 'disable_freed_hosts'),
            consolidation.settings(conf, options))),
        # the production path: the planner's mode, the executor's limits
        'mode': engine.mode_of(conf, options),
        'max_migrations': int(options.max_migrations
                              or conf.drs_actuator.max_concurrent_migrations),
        'max_host_migrations': int(
            options.max_host_migrations
            or conf.drs_actuator.max_concurrent_migrations_per_host),
        'duration_h': work.steps * work.interval_s / 3600.0,
        'seed': seed,
        'thresholds': dict(zip(cluster.RESOURCES, map(
            float, cluster.thresholds_from_conf(conf)))),
        'detector': dict(zip(
            ('ewma_half_life_s', 'persistence_s', 'persistence_window_s'),
            detector.rules_from_conf(conf))),
        'migration_bandwidth_mb_s':
            conf.drs_balancer.migration_bandwidth_mb_s,
        'instance_cooldown_s': conf.drs_balancer.instance_cooldown,
        'options': dataclasses.asdict(options),
        'balloon_policy': conf.drs_balloon.policy if options.balloon
        else None,
    }


def build(trace, spec, conf, options=None, seed=0, interval_s=None,
          extra_info=None):
    """Place the trace's VMs on ``spec``'s hosts.

    ``spec.count`` 0 chooses the host count
    (:func:`~.placement.auto_host_count`).
    """
    options = _options(options, seed, interval_s)
    work = workload_mod.from_trace(trace, seed)
    if not spec.count:
        spec = dataclasses.replace(spec, count=placement.auto_host_count(
            work.vcpus, work.memory_mb, spec))
    if not work.has_io:
        spec = dataclasses.replace(spec, disk_mb_s=0.0, net_mb_s=0.0)
    where = placement.first_fit(work.vcpus, work.memory_mb, spec)
    placed = where >= 0
    unplaced = [work.names[i] for i in np.flatnonzero(~placed)]
    # NOTE: the simulation reads the configuration through a recorder:
    # the report lists the options it read (settings.collect)
    sim = engine.Simulation(work.subset(placed), placement.build_hosts(spec),
                            where[placed], settings.RecordingConf(conf),
                            options)
    info = _run_info(trace, work, conf, options, seed)
    info.update({
        'instances': int(placed.sum()),
        'unplaced_instances': len(unplaced),
        'unplaced_names': unplaced[:MAX_LISTED],
        'hosts': spec.to_dict(),
        'notes': list(trace.notes),
    })
    info.update(extra_info or {})
    return Scenario(sim, spec, unplaced, info)


#: At most this many host kinds (sizes) are listed in the report.
MAX_HOST_KINDS = 10


def build_snapshot(trace, model, source, conf, options=None, seed=0,
                   interval_s=None, extra_info=None):
    """The snapshot ``model``'s cluster replaying ``trace``.

    The hosts are the snapshot's, sizes, reserved resources, allocation
    ratios, zones, aggregates and disabled flags included; the instances
    keep their flavors, hosts (the initial placement: nothing is placed
    again), server groups and opt-outs; each replays the trace VM
    :func:`~.workload.map_traces` draws for it
    (:func:`~.workload.from_instances`). The snapshot's measured state
    (instance loads, host base loads, agents' thresholds and hot flags,
    times since the last migration) is not replayed: the loads come from
    the trace and the simulated agents measure them.

    :param model: :class:`~nova_drs.model.cluster.ClusterModel` of the
        snapshot, with at least one instance.
    :param source: the snapshot's path, for the report.
    """
    options = _options(options, seed, interval_s)
    inst = model.instances
    work, pick = workload_mod.from_instances(
        trace, inst.names, inst.vcpus, inst.memory_mb, seed)
    hosts = dataclasses.replace(model.hosts, base_load=None,
                                thresholds=None, hot=None)
    if not work.has_io:
        # the trace has no disk or network demand: not tracked, as with
        # --hosts
        zeros = np.zeros(len(hosts))
        hosts = dataclasses.replace(hosts, disk_capacity_mb_s=zeros,
                                    net_capacity_mb_s=zeros.copy())
    layout = cluster.ClusterModel(hosts, inst, model.groups, model.zones,
                                  model.aggregate_sets)
    sim = engine.Simulation(work, hosts, inst.host.copy(),
                            settings.RecordingConf(conf), options,
                            layout=layout)
    trace_names = [workload_mod.instance_name(trace.names[k])
                   for k in pick]
    info = _run_info(trace, work, conf, options, seed)
    info.update({
        'instances': len(inst),
        'unplaced_instances': 0,
        'unplaced_names': [],
        'hosts': describe_hosts(hosts, source),
        'snapshot': {
            'file': source,
            'server_groups': len(model.groups),
            'availability_zones': sorted(set(
                model.zones[z] for z in hosts.availability_zone)),
            'opted_out_instances': int(inst.opt_out.sum()),
            # instance -> the trace VM it replays (the mapping rule's
            # outcome, for a look at a surprising host)
            'trace_mapping': dict(zip(inst.names, trace_names)),
        },
        'notes': list(trace.notes) + [
            '%d snapshot instances replay %d trace VMs (seeded draw '
            'without replacement, by instance name%s)' % (
                len(inst), len(trace),
                '; some VMs replayed by several instances'
                if len(inst) > len(trace) else '')],
    })
    info.update(extra_info or {})
    return Scenario(sim, None, [], info)


def describe_hosts(hosts, source=None):
    """The hosts for the report: how many, and each size (kind) there is.

    :returns: ``{"count": n, "kinds": [text], "disabled": n}`` (and
        ``"snapshot"``: ``source`` when given).
    """
    kinds = {}
    for h in range(len(hosts)):
        key = (int(hosts.vcpus[h]), int(hosts.memory_mb[h]),
               int(hosts.reserved_host_cpus[h]),
               int(hosts.reserved_host_memory_mb[h]),
               float(hosts.cpu_allocation_ratio[h]),
               float(hosts.ram_allocation_ratio[h]),
               float(hosts.disk_capacity_mb_s[h]),
               float(hosts.net_capacity_mb_s[h]))
        kinds[key] = kinds.get(key, 0) + 1
    # the most common first, then the largest
    ordered = sorted(kinds.items(),
                     key=lambda kv: (-kv[1], [-v for v in kv[0]]))
    texts = [_kind_text(count, *key)
             for key, count in ordered[:MAX_HOST_KINDS]]
    if len(ordered) > MAX_HOST_KINDS:
        texts.append('%d other sizes' % (len(ordered) - MAX_HOST_KINDS))
    out = {'count': len(hosts), 'kinds': texts,
           'disabled': int(np.sum(hosts.disabled))}
    if source is not None:
        out['snapshot'] = source
    return out


def _kind_text(count, vcpus, memory_mb, reserved_cpus, reserved_mb,
               cpu_ratio, ram_ratio, disk, net):
    text = '%d x %d cores%s, %d MiB (%d reserved), ratios %g/%g' % (
        count, vcpus, ' (%d reserved)' % reserved_cpus
        if reserved_cpus else '', memory_mb, reserved_mb, cpu_ratio,
        ram_ratio)
    if disk or net:
        text += ', disk %g MB/s, network %g MB/s' % (disk, net)
    return text


def run(scenario, names, progress=None):
    """Run every strategy of ``names``; return (results dict, histories).

    The results dict is what ``--json`` writes: ``{"input": ...,
    "strategies": {name: metrics}}``.
    """
    out = {}
    histories = {}
    for name in names:
        if progress is not None:
            progress.set_label(name)
        result = scenario.simulation.run(name, progress)
        result.metrics['unplaced_instances'] = len(scenario.unplaced)
        out[name] = _ordered(result.metrics)
        histories[name] = result.history
    conf = scenario.simulation.conf
    if isinstance(conf, settings.RecordingConf):
        scenario.info['settings'] = settings.collect(conf)
    return {'input': scenario.info, 'strategies': out}, histories


KEY_ORDER = ('overload_time_fraction', 'hotspot_host_time_fraction', 'pdm',
             'slav', 'migrations', 'gib_moved', 'mean_active_hosts',
             'memory_reclaimed_gib', 'pressure_events', 'unplaced_instances',
             'wall_s')


def _ordered(metrics):
    out = {k: metrics[k] for k in KEY_ORDER if k in metrics}
    out.update({k: v for k, v in metrics.items() if k not in out})
    for k, v in out.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
    return out
