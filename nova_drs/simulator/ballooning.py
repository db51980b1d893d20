# SPDX-License-Identifier: Apache-2.0
"""Run the production balloon policy on every simulated host.

Each host has its own policy object, loaded by name from the
``nova_drs.balloon.policies`` namespace (``[drs_balloon] policy``) exactly
as the agent on that host would load it, and fed the same
:class:`~nova_drs.balloon.HostMemory` and
:class:`~nova_drs.balloon.GuestMemory` records the agent builds from
libvirt, here from :class:`~nova_drs.simulator.guests.GuestMemory`.
Targets apply at once. The policy's clock is the simulated time (the
start of the step), so its rates and holdoffs run in simulated seconds.
With ``[drs_balloon] dry_run`` targets are
computed and not applied, as in the agent. When a guest migrates away, its
host's policy forgets it, as the agent does when a domain goes away.

The host's available memory is its physical memory less the reserved
memory and the memory backed for its guests, including guests arriving
by live migration. What the policy is told runs outside the guests
(:func:`nova_drs.balloon.outside_mb`, as the agent computes it from
MemAvailable and QEMU's resident memory) is then the reserved memory:
the simulated host's own use.
"""

import numpy as np

from nova_drs import balloon
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


class BalloonDriver:
    """One policy per host, lazily loaded; applies their targets."""

    def __init__(self, conf, names, hosts, free_page_reporting=False,
                 interval_s=None):
        self.conf = conf
        self.interval_s = interval_s
        #: simulated time, seconds: the policies' clock
        self.now_s = 0.0
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.hosts = hosts
        self.fpr = bool(free_page_reporting)
        self.policies = {}
        self.apply = not conf.drs_balloon.dry_run
        # one snapshot for every host's policy: the run's settings do not
        # change while it runs (overrides are set before the driver)
        self._policy_conf = _PolicyConf(conf)

    def policy(self, h):
        policy = self.policies.get(h)
        if policy is None:
            policy = balloon.load(self._policy_conf.drs_balloon.policy,
                                  self._policy_conf,
                                  clock=self._clock,
                                  interval_s=self.interval_s)
            self.policies[h] = policy
        return policy

    def _clock(self):
        return self.now_s

    def forget(self, h, i):
        policy = self.policies.get(h)
        if policy is not None:
            policy.forget(self.names[i])

    def step(self, members, guests, migrating, extra_backed_mb, now_s=None):
        """One balloon cycle on every host that has guests.

        :param members: list, per host, of the instance indices on it.
        :param guests: :class:`~nova_drs.simulator.guests.GuestMemory`.
        :param migrating: bool per instance: being live-migrated.
        :param extra_backed_mb: per host, memory backed for guests that
            are migrating in.
        :param now_s: simulated time of the step, seconds.
        """
        if now_s is not None:
            self.now_s = float(now_s)
        usable = guests.usable()
        unused = guests.unused()
        swap = guests.swap_in_rate()
        backed = guests.backed
        total = self.hosts.memory_mb.astype(float)
        reserved = self.hosts.reserved_host_memory_mb.astype(float)
        faults_per_mb = guests_mod.FAULTS_PER_MB
        changed, values = [], []
        for h, idx in enumerate(members):
            if not idx:
                continue
            rss = backed[idx]
            available = (total[h] - reserved[h] - extra_backed_mb[h]
                         - float(rss.sum()))
            # the guests migrating in have their QEMU processes here
            # too: what is outside the guests is the reserved memory
            host = balloon.HostMemory(
                total_mb=float(total[h]), available_mb=available,
                outside_mb=balloon.outside_mb(
                    total[h], available,
                    (float(rss.sum()), float(extra_backed_mb[h]))))
            records = [balloon.GuestMemory(
                name=self.names[i], max_mb=float(guests.max_mb[i]),
                actual_mb=float(guests.actual[i]),
                usable_mb=float(usable[i]), unused_mb=float(unused[i]),
                rss_mb=float(backed[i]),
                major_fault_rate=float(swap[i]) * faults_per_mb,
                swap_in_rate=float(swap[i]), migrating=bool(migrating[i]),
                autodeflate=True, free_page_reporting=self.fpr)
                for i in idx]
            for target in self.policy(h).targets(host, records):
                if target.action == 'hold':
                    continue
                changed.append(self.index[target.name])
                values.append(target.target_mb)
        if changed and self.apply:
            guests.set_actual(np.array(changed), np.array(values))
        return len(changed)
