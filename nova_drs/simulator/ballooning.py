# SPDX-License-Identifier: Apache-2.0
"""Run the agent's balloon actuator on every simulated host.

Each host has its own :class:`nova_drs.agent.balloon.BalloonActuator`,
the agent's class: it loads the policy by name from the
``nova_drs.balloon.policies`` namespace (``[drs_balloon] policy``),
applies its targets by the agent's rules (a guest whose migration job
runs is held, ``[drs_balloon] dry_run`` computes and applies nothing)
and writes each guest's demand estimate into its domain metadata with
the agent's :class:`~nova_drs.agent.demand_carrier.DemandCarrier`, so
that a live-migrated guest's estimate reaches the destination's policy
as in production (the simulated "domain" travels with the guest). Only
libvirt is replaced (:class:`_Libvirt`): the actuator is fed the
:class:`~nova_drs.agent.metrics.GuestMetrics` and host metrics the
agent builds from libvirt, here from
:class:`~nova_drs.simulator.guests.GuestMemory`, and its balloon
resizes land on the simulated guests at once. The clocks (the policy's,
the carrier's cadence and the dates its estimates are written with) are
the simulated time of the cycle, so rates, holdoffs and ages run in
simulated seconds. When a guest migrates away, its source's actuator
forgets it, as the agent does when a domain goes away.

The host's available memory is its physical memory less the reserved
memory and the memory backed for its guests, including guests arriving
by live migration. What the policy is told runs outside the guests
(:func:`nova_drs.balloon.outside_mb`, as the agent computes it from
MemAvailable and QEMU's resident memory) is then the reserved memory:
the simulated host's own use.
"""

import numpy as np

from nova_drs.agent import balloon as actuator_mod
from nova_drs.agent import demand_element
from nova_drs.agent import inspector as inspector_mod
from nova_drs.agent import metrics as agent_metrics
from nova_drs.simulator import guests as guests_mod


class _ReadOnceGroup:
    """An option group whose options are read once, then kept.

    The policy reads its options every cycle (an agent's options are
    mutable); a simulated run never changes them, and re-reading them
    for every host of every step was a fifth of a simulation's time.
    Read lazily, so only the options the policy reads are read (and
    recorded in the run's settings).
    """

    def __init__(self, group):
        self._group = group

    def __getattr__(self, name):
        value = getattr(self._group, name)
        # a plain attribute from now on: __getattr__ is not called again
        setattr(self, name, value)
        return value


class _PolicyConf:
    """``conf`` as the policies see it: ``[drs_balloon]`` read once."""

    def __init__(self, conf):
        self._conf = conf
        self.drs_balloon = _ReadOnceGroup(conf.drs_balloon)

    def __getattr__(self, name):
        return getattr(self._conf, name)


class _Libvirt:
    """The inspector calls the actuator and the carrier make, simulated.

    One for the whole run, as the guests' domains are: a resize is kept
    until the driver applies the cycle's resizes to the guests; a
    demand element is written into the guest's configuration
    (``sample.config.demand``), which moves with the guest.
    """

    def __init__(self, guests_by_name):
        self._guests = guests_by_name
        #: guest name -> target MiB, this cycle
        self.resized = {}
        #: names of guests whose live migration is running
        self.migrating = frozenset()

    def job_active(self, uuid):
        return uuid in self.migrating

    def set_memory(self, uuid, kib):
        self.resized[uuid] = kib / 1024.0

    def set_demand_metadata(self, uuid, peak_mb, history_s, at,
                            rise_mb_per_sqrt_s=None, rise_history_s=None):
        self._guests[uuid].sample.config.demand = (
            demand_element.CarriedDemand(
                peak_mb=peak_mb, history_s=history_s, at=at,
                rise_mb_per_sqrt_s=rise_mb_per_sqrt_s,
                rise_history_s=rise_history_s))


class BalloonDriver:
    """One agent's balloon actuator per host, lazily made; runs them."""

    def __init__(self, conf, names, hosts, free_page_reporting=False,
                 interval_s=None):
        self.conf = conf
        self.interval_s = interval_s
        #: simulated time, seconds: the actuators' clocks
        self.now_s = 0.0
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.hosts = hosts
        self.fpr = bool(free_page_reporting)
        self.actuators = {}
        # one snapshot for every host's policy: the run's settings do not
        # change while it runs (overrides are set before the driver)
        self._policy_conf = _PolicyConf(conf)
        #: the agent's record of each guest, made once and updated every
        #: cycle: its configuration (the domain's metadata) moves with it
        self._records = [None] * len(names)
        self._by_name = {}
        self._libvirt = _Libvirt(self._by_name)

    def actuator(self, h):
        actuator = self.actuators.get(h)
        if actuator is None:
            actuator = actuator_mod.BalloonActuator(
                self._policy_conf, self._libvirt, clock=self._clock,
                wallclock=self._clock, interval_s=self.interval_s,
                warn_config=False)
            self.actuators[h] = actuator
        return actuator

    def policy(self, h):
        return self.actuator(h).policy

    def _clock(self):
        return self.now_s

    def forget(self, h, i):
        actuator = self.actuators.get(h)
        if actuator is not None:
            actuator.forget([self.names[i]])

    def _record(self, i):
        g = self._records[i]
        if g is None:
            name = self.names[i]
            config = inspector_mod.GuestConfig(
                has_balloon=True, autodeflate=True,
                free_page_reporting=self.fpr, stats_period=1)
            g = agent_metrics.GuestMetrics(
                uuid=name, name=name, state='running', vcpus=0, stats=True,
                sample=inspector_mod.GuestSample(
                    uuid=name, name=name, state='running', monotonic=0.0,
                    config=config))
            self._records[i] = self._by_name[name] = g
        return g

    def step(self, members, guests, migrating, incoming=None, now_s=None):
        """One balloon cycle on every host that has guests.

        :param members: list, per host, of the instance indices on it.
        :param guests: :class:`~nova_drs.simulator.guests.GuestMemory`.
        :param migrating: bool per instance: being live-migrated.
        :param incoming: list, per host, of the instances migrating in, or
            None when none is. Their QEMU processes are on the
            destination, paused, holding the memory copied so far (the
            simulator backs all of it), as on a real destination: the
            actuator counts it as the guests' and its carrier reads
            their metadata at once.
        :param now_s: simulated time of the step, seconds.
        :returns: the balloon changes the policies asked for (applied, or
            not with ``dry_run``).
        """
        if now_s is not None:
            self.now_s = float(now_s)
        usable = guests.usable().tolist()
        unused = guests.unused().tolist()
        swap = guests.swap_in_rate().tolist()
        backed = guests.backed.tolist()
        actual = guests.actual.tolist()
        max_mb = guests.max_mb.tolist()
        moving = np.asarray(migrating, dtype=bool).tolist()
        total = self.hosts.memory_mb.astype(float).tolist()
        reserved = self.hosts.reserved_host_memory_mb.astype(float).tolist()
        faults_per_mb = guests_mod.FAULTS_PER_MB
        libvirt = self._libvirt
        libvirt.resized = {}
        libvirt.migrating = frozenset(
            self.names[i] for i, m in enumerate(moving) if m)
        changes = 0
        for h, idx in enumerate(members):
            if not idx:
                continue
            # NOTE: a migrating guest's record is shown running on its
            # source and paused on its destination: set before each
            # host's cycle, which keeps no record past its call
            records = []
            for i in idx:
                g = self._record(i)
                g.state = 'running'
                g.max_mb = max_mb[i]
                g.actual_mb = actual[i]
                g.available_mb = usable[i]
                g.unused_mb = unused[i]
                g.rss_mb = backed[i]
                g.swap_in_mb_s = swap[i]
                g.major_fault_rate = swap[i] * faults_per_mb
                g.sample.migrating = moving[i]
                records.append(g)
            for i in (incoming[h] if incoming is not None else ()):
                g = self._record(i)
                g.state = 'paused'
                g.max_mb = max_mb[i]
                g.actual_mb = actual[i]
                g.rss_mb = backed[i]
                records.append(g)
            # what is outside the guests is the reserved memory: the
            # simulated host's own use
            available = total[h] - reserved[h] - sum(g.rss_mb
                                                     for g in records)
            host = agent_metrics.HostMetrics(
                name=str(h), wallclock=self.now_s, interval_s=0.0,
                cpu_count=0, total_mb=total[h], available_mb=available)
            report = self.actuator(h).cycle(host, records)
            changes += sum(1 for b in report.guests.values()
                           if b.action in ('grow', 'shrink'))
        # (with [drs_balloon] dry_run the actuators resize nothing)
        if libvirt.resized:
            names = list(libvirt.resized)
            guests.set_actual(np.array([self.index[n] for n in names]),
                              np.array([libvirt.resized[n] for n in names]))
        return changes
