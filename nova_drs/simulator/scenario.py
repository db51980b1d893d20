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
    spec: placement.HostSpec
    unplaced: list
    info: dict


def host_spec(kind, count=None, **overrides):
    """A :class:`~.placement.HostSpec` with the trace's defaults."""
    values = dict(HOST_DEFAULTS[kind])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return placement.HostSpec(count=count or 0, **values)


def build(trace, spec, conf, options=None, seed=0, interval_s=None,
          extra_info=None):
    """Place the trace's VMs on ``spec``'s hosts.

    ``spec.count`` 0 chooses the host count
    (:func:`~.placement.auto_host_count`).
    """
    options = options or engine.Options()
    # migration failures are drawn from the simulation's seed too
    options = dataclasses.replace(options, migration=dataclasses.replace(
        options.migration, seed=seed))
    # NOTE: the trace stays at its own interval: the engine rebuilds the
    # load between samples (interpolation) and runs the agents every
    # interval_s of simulated time
    if interval_s:
        options = dataclasses.replace(options, agent_interval_s=interval_s)
    trace_interval_s = trace.interval_s
    work = workload_mod.from_trace(trace, seed)
    if not spec.count:
        spec = dataclasses.replace(spec, count=placement.auto_host_count(
            work.vcpus, work.memory_mb, spec))
    if not work.has_io:
        spec = dataclasses.replace(spec, disk_mb_s=0.0, net_mb_s=0.0)
    agent_s = float(options.agent_interval_s or work.interval_s)
    where = placement.first_fit(work.vcpus, work.memory_mb, spec)
    placed = where >= 0
    unplaced = [work.names[i] for i in np.flatnonzero(~placed)]
    # NOTE: the simulation reads the configuration through a recorder:
    # the report lists the options it read (settings.collect)
    sim = engine.Simulation(work.subset(placed), placement.build_hosts(spec),
                            where[placed], settings.RecordingConf(conf),
                            options)
    info = {
        'trace': trace.kind,
        'trace_dir': trace.source,
        'vms_in_trace': len(trace) + len(trace.skipped),
        'vms_skipped': [{'name': n, 'reason': r} for n, r in trace.skipped],
        'instances': int(placed.sum()),
        'unplaced_instances': len(unplaced),
        'unplaced_names': unplaced[:MAX_LISTED],
        'steps': work.steps,
        'trace_interval_s': trace_interval_s,
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
        'duration_h': work.steps * work.interval_s / 3600.0,
        'seed': seed,
        'hosts': spec.to_dict(),
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
        'notes': list(trace.notes),
    }
    info.update(extra_info or {})
    return Scenario(sim, spec, unplaced, info)


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
