# SPDX-License-Identifier: Apache-2.0
"""How far can memory be overcommitted? Replay one host, find the answer.

One host holds N VMs of a Bitbrains trace (chosen by a seed). For a memory
overcommit ``X`` (the sum of the VMs' flavor memory over the host's
memory: what ``ram_allocation_ratio`` allows), the host has ``sum(flavor)
/ X`` MiB, and the VMs' memory use of the trace is replayed, step by step,
through the simulator's guest memory model
(:class:`nova_drs.simulator.guests.GuestMemory`: working set, page cache,
balloon, backed memory) and a balloon policy:

* a production policy (``[drs_balloon] policy``, with the settings given),
  run exactly as the agent runs it, by
  :class:`nova_drs.simulator.ballooning.BalloonDriver`, with the simulated
  time as its clock;
* :data:`ORACLE`, a policy that knows every VM's demand before the step
  (see :func:`oracle_targets`);
* :data:`HINDSIGHT`, a reactive reference: it sees only the demand of
  the step before, but is told in advance the largest one-step rise of
  each VM over the whole replay (see :func:`hindsight_targets`);
* :data:`NO_BALLOON`, nothing ballooned.

The host is *under pressure* at a step when its available memory (its
memory less what it backs for its guests) is below ``host_pressure_free``
of it (5 %). A *guest pressure event* is a guest-step whose working set
exceeds its balloon (it swaps). A run *holds* when the host is out of
pressure in at least ``ok_share`` (99 %) of the steps and no guest has a
pressure event. The largest overcommit that holds is found by doubling
then bisection (to ``tolerance``), assuming that a run that holds at
``X`` holds at any lower ``X``.
"""

import dataclasses
import types

import numpy as np

from nova_drs.simulator import ballooning
from nova_drs.simulator import guests as guests_mod
from nova_drs.simulator import traces

ORACLE = 'oracle'
HINDSIGHT = 'hindsight'
NO_BALLOON = 'none'
#: the policies the replay computes itself (not loaded by name)
REFERENCES = (ORACLE, HINDSIGHT, NO_BALLOON)

#: the host is under pressure below this share of its memory available
HOST_PRESSURE_FREE = 0.05
#: share of steps the host must be out of pressure
OK_SHARE = 0.99
#: the search stops when the bracket is this narrow (overcommit units)
TOLERANCE = 0.02
#: highest overcommit tried
MAX_OVERCOMMIT = 64.0


@dataclasses.dataclass
class Vms:
    """The VMs of one host and their memory demand."""

    names: list
    #: flavor memory, MiB
    max_mb: np.ndarray
    #: (VMs, steps) memory in use (working set), MiB
    ws: np.ndarray
    interval_s: float
    seed: int = 0
    #: (VMs, steps) the VM is switched on (None: always)
    on: np.ndarray = None

    def __post_init__(self):
        if self.on is None:
            self.on = np.ones(self.ws.shape, dtype=bool)

    @property
    def steps(self):
        return self.ws.shape[1]


@dataclasses.dataclass
class Policy:
    """A policy and the ``[drs_balloon]`` settings it runs with."""

    name: str
    settings: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self):
        if not self.settings:
            return self.name
        return '%s(%s)' % (self.name, ','.join(
            '%s=%s' % kv for kv in sorted(self.settings.items())))


@dataclasses.dataclass
class Run:
    """One replay at one overcommit."""

    overcommit: float
    host_mb: float
    #: share of steps with the host out of pressure
    host_ok: float
    guest_events: int
    balloon_changes: int
    #: per step: memory the balloons returned to the host, MiB
    reclaimed_mb: np.ndarray = None
    #: per step: available share of host memory
    headroom: np.ndarray = None

    def holds(self, ok_share=OK_SHARE):
        return self.host_ok >= ok_share and self.guest_events == 0


def upsample(mem, sample_s, interval_s, steps):
    """Memory use every ``interval_s`` seconds from ``sample_s`` samples.

    Between two samples of a running VM, memory use moves in a straight
    line: a trace sample is one reading every 5 minutes, and a guest
    allocates over time, not all at once at the end of the 5 minutes. A
    VM reading 0 is off; it switches on (or off) at the sample where it
    does. Returns (memory MiB, on) arrays of shape (VMs, steps).
    """
    n, samples = mem.shape
    t = np.arange(steps) * interval_s / sample_s
    j = np.minimum(t.astype(np.int64), samples - 1)
    nxt = np.minimum(j + 1, samples - 1)
    frac = t - j
    on = mem > 0
    here = mem[:, j]
    both = on[:, j] & on[:, nxt]
    ramp = here + frac * (mem[:, nxt] - here)
    return np.where(both, ramp, here), on[:, j]


def select_vms(trace, count, seed, hours, interval_s):
    """``count`` VMs of ``trace`` drawn with ``seed``, ``hours`` long.

    A period longer than the trace's takes the time-weighted mean of the
    samples it spans (:func:`nova_drs.simulator.traces.resample`); a
    shorter one is interpolated (:func:`upsample`).

    :raises traces.TraceError: too few VMs or samples.
    """
    if count > len(trace):
        raise traces.TraceError('%s: %d VMs asked for, the trace has %d'
                                % (trace.source, count, len(trace)))
    if trace.mem_used_mb is None:
        raise traces.TraceError('%s: the trace has no memory data'
                                % trace.source)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(trace), size=count, replace=False))
    samples = int(round(hours * 3600.0 / trace.interval_s))
    if samples < 1 or samples > trace.samples:
        raise traces.TraceError(
            '%s: %g hours asked for, the trace has %g' % (
                trace.source, hours,
                trace.samples * trace.interval_s / 3600.0))
    flavor = trace.memory_mb[pick].astype(float)
    mem = np.minimum(trace.mem_used_mb[pick, :samples], flavor[:, None])
    if interval_s < trace.interval_s:
        steps = int(samples * trace.interval_s // interval_s)
        ws, on = upsample(mem, trace.interval_s, interval_s, steps)
    else:
        sub = dataclasses.replace(
            trace, names=[trace.names[i] for i in pick],
            cpu=trace.cpu[pick, :samples], mem_used_mb=mem,
            disk_mb_s=None, net_mb_s=None)
        ws = traces.resample(sub, interval_s).mem_used_mb
        on = ws > 0
    return Vms(names=[trace.names[i] for i in pick], max_mb=flavor, ws=ws,
               interval_s=float(interval_s), seed=seed, on=on)


def margins(conf, max_mb):
    """Each guest's margin as the adaptive policy computes it, MiB."""
    opts = conf.drs_balloon
    return np.minimum(max_mb, np.maximum(opts.guest_margin * max_mb,
                                         opts.guest_margin_min_mb))


def oracle_targets(conf, max_mb, ws):
    """The oracle's balloons for working sets ``ws``.

    It knows each guest's demand of the coming step and gives it exactly
    that plus the same margin the adaptive policy keeps, never below the
    same flat floor (``[drs_balloon] floor``) nor above the flavor: the
    least memory a guest can have with the policy's safety margins, every
    step. It re-targets every guest every step (a change is made when it
    is at least ``min_change_mb``), whatever the host's state: it is also
    the *re-target every cycle* reference for balloon changes.
    """
    floor = conf.drs_balloon.floor * max_mb
    return np.minimum(max_mb, np.maximum(ws + margins(conf, max_mb), floor))


def largest_rises(vms):
    """Each VM's largest rise of demand from one step to the next, MiB.

    Only between two steps it runs in: a VM switched on boots with its
    whole flavor memory, whatever it used before it was off.
    """
    both = vms.on[:, 1:] & vms.on[:, :-1]
    rises = np.where(both, np.diff(vms.ws, axis=1), 0.0)
    if rises.shape[1] == 0:
        return np.zeros(len(vms.names))
    return np.maximum(rises.max(axis=1), 0.0)


def hindsight_targets(conf, max_mb, ws_before, rises):
    """The hindsight reference's balloons, from the demand of the step before.

    A reactive policy sets a balloon before it sees the demand it must
    hold; to be sure of no guest pressure event it must leave each guest
    the rise it can make by the next step. This reference is told, in
    advance, each VM's largest one-step rise over the whole replay
    (``rises``, :func:`largest_rises`), which no policy learning from
    the past can know better, and gives each guest its demand of the step
    before plus that rise (at least the margin), above the same flat
    floor, every step. It never has a guest pressure event; the largest
    overcommit at which it holds bounds what a policy keeping a fixed
    headroom per guest can reach, however well it learns the headroom.
    """
    floor = conf.drs_balloon.floor * max_mb
    headroom = np.maximum(rises, margins(conf, max_mb))
    return np.minimum(max_mb, np.maximum(ws_before + headroom, floor))


def simulate(vms, conf, policy, overcommit, page_cache_growth=0.02,
             free_page_reporting=False,
             host_pressure_free=HOST_PRESSURE_FREE, history=False,
             outside_mb=0.0):
    """Replay ``vms`` on a host ``overcommit`` times too small: a Run.

    ``conf`` must already carry ``policy.settings`` (see
    :func:`settings_applied`). ``outside_mb`` is memory the host uses
    outside its guests (a process holding it, as the end-to-end test's
    memory hog), on top of ``sum(flavor) / overcommit``: the host has
    that much more memory, all of it taken (none by default).
    """
    n = len(vms.names)
    outside = float(outside_mb)
    total = float(vms.max_mb.sum()) / overcommit + outside
    g = guests_mod.GuestMemory(vms.max_mb, page_cache_growth,
                               free_page_reporting)
    T = vms.interval_s
    driver = None
    rises = largest_rises(vms) if policy.name == HINDSIGHT else None
    if policy.name not in REFERENCES:
        hosts = types.SimpleNamespace(
            memory_mb=np.array([total]),
            reserved_host_memory_mb=np.array([outside]))
        driver = ballooning.BalloonDriver(conf, vms.names, hosts,
                                          free_page_reporting, interval_s=T)
    migrating = np.zeros(n, dtype=bool)
    min_change = conf.drs_balloon.min_change_mb
    everyone = np.arange(n)
    steps = vms.steps
    ok = 0
    events = 0
    changes = 0
    reclaimed = np.zeros(steps) if history else None
    headroom = np.zeros(steps) if history else None
    for t in range(steps):
        ws = vms.ws[:, t]
        on = vms.on[:, t]
        members = [everyone[on].tolist()]
        if policy.name == ORACLE and t > 0:
            target = oracle_targets(conf, vms.max_mb, ws)
            move = on & (np.abs(target - g.actual) >= max(min_change, 1e-9))
            if move.any():
                g.set_actual(everyone[move], target[move])
                changes += int(move.sum())
        elif policy.name == HINDSIGHT and t > 0:
            # only the guests that ran the step before: one switched on
            # now boots with its whole flavor memory
            running = on & vms.on[:, t - 1]
            target = hindsight_targets(conf, vms.max_mb, vms.ws[:, t - 1],
                                       rises)
            # any growth is made, however small: a guest short of a few
            # MiB at its largest rise would swap
            move = running & ((target > g.actual)
                              | (g.actual - target >= min_change))
            if move.any():
                g.set_actual(everyone[move], target[move])
                changes += int(move.sum())
        events += int(g.observe(ws, T).sum())
        if not on.all():
            g.switch_off(~on)
        if policy.name == ORACLE and t == 0:
            # the first step: nothing backed yet, the guests boot full
            target = oracle_targets(conf, vms.max_mb, ws)
            g.set_actual(everyone[on], target[on])
            changes += int(on.sum())
        elif driver is not None:
            changes += driver.step(members, g, migrating, None,
                                   now_s=t * T)
        free = (total - outside - float(g.backed.sum())) / total
        ok += free >= host_pressure_free
        if history:
            reclaimed[t] = float(g.reclaimed().sum())
            headroom[t] = free
    return Run(overcommit=overcommit, host_mb=total, host_ok=ok / steps,
               guest_events=events, balloon_changes=changes,
               reclaimed_mb=reclaimed, headroom=headroom)


class settings_applied:
    """Context manager: ``conf`` with a policy's settings, then without."""

    def __init__(self, conf, policy):
        self.conf = conf
        self.policy = policy

    def __enter__(self):
        group = self.conf.drs_balloon
        if self.policy.name not in REFERENCES:
            self.conf.set_override('policy', self.policy.name, 'drs_balloon')
        for name, value in self.policy.settings.items():
            self.conf.set_override(name, value, 'drs_balloon')
        return group

    def __exit__(self, *exc):
        for name in list(self.policy.settings) + ['policy']:
            self.conf.clear_override(name, 'drs_balloon')
        return False


@dataclasses.dataclass
class Answer:
    """The largest overcommit that holds, and the runs that found it."""

    policy: Policy
    #: largest overcommit found to hold (None: not even 1.0)
    max_overcommit: float
    #: the run at ``max_overcommit`` (or at 1.0 when none holds)
    run: Run
    runs: int


def find_max_overcommit(vms, conf, policy, tolerance=TOLERANCE,
                        ok_share=OK_SHARE, low=1.0, **kwargs):
    """Search the largest overcommit at which ``policy`` holds."""
    with settings_applied(conf, policy):
        def attempt(x):
            return simulate(vms, conf, policy, x, **kwargs)

        runs = 1
        best = attempt(low)
        if not best.holds(ok_share):
            return Answer(policy, None, best, runs)
        lo, hi = low, None
        x = max(2.0 * low, low + 1.0)
        while hi is None and x <= MAX_OVERCOMMIT:
            run = attempt(x)
            runs += 1
            if run.holds(ok_share):
                lo, best = x, run
                x *= 2.0
            else:
                hi = x
        if hi is None:
            return Answer(policy, lo, best, runs)
        while hi - lo > tolerance:
            mid = (lo + hi) / 2.0
            run = attempt(mid)
            runs += 1
            if run.holds(ok_share):
                lo, best = mid, run
            else:
                hi = mid
        return Answer(policy, lo, best, runs)


def check_at(vms, conf, policy, overcommit, **kwargs):
    """One replay of ``policy`` at ``overcommit`` (with its settings)."""
    with settings_applied(conf, policy):
        return simulate(vms, conf, policy, overcommit, **kwargs)
