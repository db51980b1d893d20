# SPDX-License-Identifier: Apache-2.0
"""Maintenance windows in simulated time: hosts the balancer evacuates.

An operator takes a host into maintenance by disabling its nova-compute
service with a reason that starts with ``[drs_balancer]
maintenance_reason_prefix``; the balancer that owns the host then plans
and applies its evacuation (mandatory: in ``partial`` mode too, never in
``manual``), and no plan sends anything to it. ``nova-drs simulate
--maintenance HOST@START[-END]`` replays that on the trace: from
``START`` to ``END`` (seconds from the start of the trace, or ``HH:MM``;
no end: to the end of the trace) the host is disabled with such a reason,
and the engine gives it to the service's planner as Nova's view gives it
(``CycleInput.disabled_reasons``, the host disabled in the model), so the
evacuation is the planner's own
(:meth:`~nova_drs.balancer.planning.planner.Planner.decide`). After the
window the host is enabled again and takes load like any other.

The evacuation of a host is *under way* while a migration off it is
pending or running (the service reads its evacuation plans from the
database; the simulated planner is told the hosts,
``CycleInput.evacuating``): no second plan meanwhile. A migration the
evacuation plans without a target (no host below the thresholds) is left
to Nova's scheduler, as in the service: :func:`nova_choice` stands for it.

Measured per window: when it started, when the host held no guest any
more (``emptied_s``, None if never), and the instances the planner left
on it with the reason (opted out, hard affinity).
"""

import dataclasses
import re

import numpy as np

#: the reason a simulated maintenance window disables a host with, after
#: the configured prefix
REASON = 'simulated maintenance window'

_TIME = re.compile(r'^(?:(\d+):(\d\d)|(\d+(?:\.\d+)?))$')


class SpecError(ValueError):
    """A ``--maintenance`` value that cannot be read; says why."""


def _seconds(text, spec):
    m = _TIME.match(text.strip())
    if m is None:
        raise SpecError('%s: %r is neither seconds nor HH:MM' % (spec, text))
    if m.group(3) is not None:
        return float(m.group(3))
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes >= 60:
        raise SpecError('%s: %r is not a time of day' % (spec, text))
    return hours * 3600.0 + minutes * 60.0


@dataclasses.dataclass
class Window:
    """One host's maintenance window, and what happened in it."""

    host: str
    start_s: float
    end_s: float = None
    #: when the host first held no guest in the window (None: never)
    emptied_s: float = None
    #: instance -> why the planner left it on the host
    left: dict = dataclasses.field(default_factory=dict)

    def active(self, now):
        return self.start_s <= now and (self.end_s is None
                                        or now < self.end_s)


def parse(specs):
    """Windows from ``HOST@START[-END]`` texts.

    :raises SpecError: with the text at fault and why
    """
    windows = []
    for spec in specs:
        host, at, when = spec.partition('@')
        if not host or not at or not when:
            raise SpecError('%r: expected HOST@START[-END] (seconds from '
                            'the start of the trace, or HH:MM)' % spec)
        start, _, end = when.partition('-')
        window = Window(host, _seconds(start, spec),
                        _seconds(end, spec) if end else None)
        if window.end_s is not None and window.end_s <= window.start_s:
            raise SpecError('%r: the window ends before it starts' % spec)
        windows.append(window)
    return windows


class Maintenance:
    """The run's maintenance windows, as the engine consults them.

    :param windows: :class:`Window` list
    :param host_names: the simulated hosts, in order
    :param prefix: ``[drs_balancer] maintenance_reason_prefix``
    :raises SpecError: a window names a host the cluster does not have
    """

    def __init__(self, windows, host_names, prefix):
        index = {name: h for h, name in enumerate(host_names)}
        for w in windows:
            if w.host not in index:
                raise SpecError('--maintenance: no host %r in the simulated '
                                'cluster (hosts: %s ... %s)'
                                % (w.host, host_names[0], host_names[-1]))
        self.windows = windows
        self.index = index
        self.reason = '%s %s' % (prefix, REASON) if prefix else REASON

    def hosts(self, now):
        """Indices of the hosts in maintenance at ``now``."""
        return sorted({self.index[w.host] for w in self.windows
                       if w.active(now)})

    def disabled(self, now, n_hosts):
        """Bool per host: disabled for maintenance at ``now``."""
        mask = np.zeros(n_hosts, dtype=bool)
        mask[self.hosts(now)] = True
        return mask

    def reasons(self, now):
        """host name -> disabled reason, as Nova's view gives them."""
        return {w.host: self.reason for w in self.windows if w.active(now)}

    def _occupied(self, host_of):
        """Bool per host: it holds a guest (``host_of``: each one's)."""
        return np.bincount(host_of, minlength=len(self.index)) > 0

    def pending(self, now, host_of, evacuating):
        """Whether a planning cycle must run for a host in maintenance.

        It holds guests and no evacuation of it is under way.
        """
        occupied = self._occupied(host_of)
        return any(occupied[h] and h not in evacuating
                   for h in self.hosts(now))

    def observe(self, now, host_of):
        """Note the hosts in maintenance that hold no guest any more."""
        occupied = self._occupied(host_of)
        for w in self.windows:
            if (w.emptied_s is None and w.active(now)
                    and not occupied[self.index[w.host]]):
                w.emptied_s = now

    def left_behind(self, left):
        """Record the planner's ``left_behind`` (host -> {instance: why})."""
        for w in self.windows:
            if w.host in left:
                w.left = dict(left[w.host])

    def metrics(self):
        """Per window, for the run's result."""
        return [{'host': w.host, 'start_s': w.start_s, 'end_s': w.end_s,
                 'emptied_s': w.emptied_s,
                 'evacuation_s': (None if w.emptied_s is None
                                  else w.emptied_s - w.start_s),
                 'left': w.left} for w in self.windows]


def nova_choice(model, instance, source, incoming, excluded):
    """The host Nova's scheduler would pick for a move without a target.

    Among the enabled hosts other than the source with room for the
    instance under their allocation ratios (what is allocated there,
    migrations on their way included), the one with the most memory left
    to allocate: Nova's default weighing (``RAMWeigher``) spreads. None
    when no host has room (Nova answers NoValidHost).

    :param incoming: per host, the instances migrating to it
    :param excluded: bool per host that may not take it (disabled, in
        maintenance)
    """
    inst = model.instances
    n_hosts = len(model.hosts.names)
    vcpus = inst.vcpus.astype(float)
    mem = inst.memory_mb.astype(float)
    used_cpu = np.bincount(inst.host, weights=vcpus, minlength=n_hosts)
    used_mem = np.bincount(inst.host, weights=mem, minlength=n_hosts)
    for h, members in enumerate(incoming):
        for i in members:
            used_cpu[h] += vcpus[i]
            used_mem[h] += mem[i]
    limit = model.allocation_limit()
    room_cpu = limit[:, 0] - used_cpu
    room_mem = limit[:, 1] - used_mem
    ok = ((room_cpu >= vcpus[instance]) & (room_mem >= mem[instance])
          & ~np.asarray(excluded, dtype=bool))
    ok[source] = False
    if not ok.any():
        return None
    candidates = np.flatnonzero(ok)
    return int(candidates[np.argmax(room_mem[candidates])])
