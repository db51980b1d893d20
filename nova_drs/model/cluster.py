# SPDX-License-Identifier: Apache-2.0
"""The cluster model: hosts, instances and server groups as arrays.

Every per-host and per-instance quantity is a numpy array indexed by
position, so that a 10,000-host, 300,000-instance region costs a few tens of
megabytes and every derived load is one vectorised pass. Names map to
positions through dictionaries.

Resources are the columns of the demand and capacity matrices, in the order
of :data:`RESOURCES`:

* ``cpu``: demand in physical cores (instance vCPUs x utilisation),
  capacity the host's physical cores;
* ``memory``: demand in MiB of memory in use, capacity the host's physical
  memory;
* ``disk``: demand in MB/s of disk throughput, capacity the host's disk
  bandwidth (0 when not known: the resource is then not tracked there);
* ``network``: demand in MB/s of network throughput, capacity the host's
  network bandwidth (0 when not known).

Allocation (what Placement enforces) is separate from load: a host may hold
``(vcpus - reserved_host_cpus) x cpu_allocation_ratio`` vCPUs and
``(memory_mb - reserved_host_memory_mb) x ram_allocation_ratio`` MiB of
flavor memory.

The measured host state. A host's load is not only its guests': its own
processes (the hypervisor's housekeeping, storage daemons, anything else
on the machine) use CPU, memory, disk and network too. The balancer gives
the model what the host's agent measured (see
:meth:`nova_drs.balancer.view.host_view.HostView.apply`), in three optional
per-host arrays of :class:`Hosts`:

* ``base_load``: demand outside the guests, in the units of the demand
  matrix: the agent's smoothed host load x capacity - the sum of the
  guests' demand, at least 0. :meth:`ClusterModel.host_demand` adds it, so
  a destination is judged on its measured load plus what moves in (as the
  Nova scheduler filter sees it), and a source's relief is computed from
  its measured load;
* ``thresholds``: the thresholds each host's agent judges it by (a row of
  NaN: the planner's own ``[drs]`` thresholds);
* ``hot``: the agent's hot flags (EWMA + k-of-n, :mod:`nova_drs.detector`):
  the one answer to "is this host hot?" that the planner, the executor's
  destination check, the API and the Nova scheduler filter all read.

Offline models (snapshots without these fields, the simulator, the bench)
leave them None: no base load, the configured thresholds, and hosts hot
where their load is above a threshold, as before.
"""

import dataclasses

import numpy as np

from nova_drs.model import resources

RESOURCES = resources.RESOURCES
CPU, MEMORY, DISK, NETWORK = (resources.CPU, resources.MEMORY,
                              resources.DISK, resources.NETWORK)

SERVER_GROUP_POLICIES = ('affinity', 'anti-affinity', 'soft-affinity',
                         'soft-anti-affinity')

#: Index used in ``Instances.group`` for an instance in no server group.
NO_GROUP = -1


@dataclasses.dataclass
class Hosts:
    """Compute hosts, one row per host."""

    names: list
    vcpus: np.ndarray                 # physical cores
    memory_mb: np.ndarray             # physical memory
    reserved_host_cpus: np.ndarray
    reserved_host_memory_mb: np.ndarray
    cpu_allocation_ratio: np.ndarray
    ram_allocation_ratio: np.ndarray
    availability_zone: np.ndarray     # int code into ClusterModel.zones
    aggregates: np.ndarray            # code into ClusterModel.aggregate_sets
    disabled: np.ndarray              # bool: disabled or in maintenance
    disk_capacity_mb_s: np.ndarray    # 0 = not tracked
    net_capacity_mb_s: np.ndarray     # 0 = not tracked
    #: (hosts, 4) demand outside the guests; None: none (offline models)
    base_load: np.ndarray = None
    #: (hosts, 4) each host's thresholds, NaN rows for the planner's
    #: own; None: the planner's own for every host
    thresholds: np.ndarray = None
    #: (hosts, 4) bool, the hot flags of each host's agent; None: hot
    #: where the load is above the threshold (offline models)
    hot: np.ndarray = None

    def __len__(self):
        return len(self.names)


@dataclasses.dataclass
class Instances:
    """Instances, one row per instance."""

    names: list
    host: np.ndarray                  # index into Hosts
    vcpus: np.ndarray
    memory_mb: np.ndarray             # flavor memory
    cpu_util: np.ndarray              # fraction 0-1 of the instance's vCPUs
    mem_used_mb: np.ndarray
    disk_mb_s: np.ndarray
    net_mb_s: np.ndarray
    dirty_rate_mb_s: np.ndarray       # 0 when not known
    group: np.ndarray                 # index into ClusterModel.groups or -1
    opt_out: np.ndarray               # bool
    last_migrated_s: np.ndarray       # seconds since last migration, inf=never
    #: (instances, 4) recent peak of cpu_util, mem_used_mb, disk_mb_s and
    #: net_mb_s (the columns above, in their units), NaN where not known;
    #: None: no history (offline models). See :meth:`ClusterModel.
    #: instance_peak_demand`.
    peak: np.ndarray = None
    #: (instances, slices, 4) the same maxima per slice of the peak
    #: window, slices aligned in time across instances (so the peaks of
    #: guests that are busy at different hours do not add up), NaN where
    #: not known; None: only ``peak`` (or nothing) is known
    peak_slices: np.ndarray = None
    #: (instances, slices, 4) the time-weighted mean load per slice of a
    #: short recent window (``[drs_balancer] destination_peak_window``),
    #: slices aligned in time across instances, NaN where not known;
    #: None: not known.
    #: Destinations are judged on it (see :meth:`ClusterModel.
    #: host_recent_excess`)
    recent_slices: np.ndarray = None
    #: the row of ``recent_slices`` holding the newest slice (the one
    #: being filled now); the rows before it, cyclically, are one slice
    #: older each. None: their time order is not known, and the hot
    #: hosts' relief takes no trend from them (see
    #: :mod:`nova_drs.balancer.planning.trend`)
    recent_newest: int = None

    def __len__(self):
        return len(self.names)


@dataclasses.dataclass
class ServerGroup:
    name: str
    policy: str
    max_server_per_host: int = 1


class ClusterModel:
    """A cluster: hosts, the instances on them and their server groups.

    The model holds facts (capacities, flavors, measurements); strategies
    copy what they change into their own working state, so one model can be
    planned against several times.
    """

    def __init__(self, hosts, instances, groups=(), zones=('nova',),
                 aggregate_sets=((),)):
        self.hosts = hosts
        self.instances = instances
        self.groups = list(groups)
        self.zones = list(zones)
        self.aggregate_sets = [tuple(a) for a in aggregate_sets]
        self.host_index = {n: i for i, n in enumerate(hosts.names)}
        self.instance_index = {n: i for i, n in enumerate(instances.names)}
        #: instance index -> host indices it must not be moved to (the
        #: balancer's recently failed (instance, host) pairs)
        self.excluded_targets = {}

    def exclude_target(self, instance, host):
        """Never plan ``instance`` onto ``host`` (names; unknown: no-op)."""
        i = self.instance_index.get(instance)
        h = self.host_index.get(host)
        if i is not None and h is not None:
            self.excluded_targets.setdefault(i, set()).add(h)

    # -- capacities ---------------------------------------------------------

    def capacity(self):
        """Physical capacity per host and resource, shape (hosts, 4)."""
        h = self.hosts
        return np.column_stack([
            h.vcpus.astype(float), h.memory_mb.astype(float),
            h.disk_capacity_mb_s.astype(float),
            h.net_capacity_mb_s.astype(float)])

    def allocation_limit(self):
        """vCPUs and flavor MiB Placement allows per host, shape (hosts, 2).

        Placement computes ``(total - reserved) x allocation_ratio``.
        """
        h = self.hosts
        vcpu = (h.vcpus - h.reserved_host_cpus) * h.cpu_allocation_ratio
        mem = ((h.memory_mb - h.reserved_host_memory_mb)
               * h.ram_allocation_ratio)
        return np.column_stack([vcpu.astype(float), mem.astype(float)])

    # -- demand -------------------------------------------------------------

    def instance_demand(self):
        """Load each instance puts on its host, shape (instances, 4)."""
        i = self.instances
        return np.column_stack([
            i.vcpus * i.cpu_util, i.mem_used_mb.astype(float),
            i.disk_mb_s.astype(float), i.net_mb_s.astype(float)])

    def instance_peak_demand(self):
        """Recent peak load of each instance, shape (instances, 4).

        In the units of :meth:`instance_demand`, and never below it: the
        recent peak where the model knows one (``instances.peak``), the
        current demand elsewhere. Consolidation packs guests by this, so
        that a host filled at a quiet hour is not hot at the next busy
        one.
        """
        demand = self.instance_demand()
        peak = self.instances.peak
        if peak is None or not len(self.instances):
            return demand
        peak = np.asarray(peak, dtype=float)
        i = self.instances
        as_demand = np.column_stack([
            i.vcpus * np.clip(peak[:, 0], 0.0, 1.0), peak[:, 1],
            peak[:, 2], peak[:, 3]])
        return np.fmax(demand, as_demand)

    def recent_excess(self, rows=None, columns=None):
        """How far each recent slice is above the demand now, or None.

        Shape (n, slices, 4), float32, in the units of
        :meth:`instance_demand`, at least 0 (0 where a slice has no
        sample), from ``instances.recent_slices``; None when the model
        has none.

        :param rows: instance indices (None: every instance)
        :param columns: the resources to compute (None: all four); the
            others are 0
        """
        slices = self.instances.recent_slices
        if slices is None:
            return None
        i = self.instances
        if rows is None:
            rows = slice(None)
        if columns is None:
            columns = range(len(RESOURCES))
        slices = slices[rows]
        # NOTE: float32, in place, and only the columns asked for: a
        # region's instances have tens of millions of slice values,
        # planned every cycle. Each resource is one contiguous block
        # (the result is a transposed view of it), so that the
        # arithmetic below writes contiguous memory; np.zeros costs
        # nothing for the blocks left out (pages never touched)
        n, width = slices.shape[0], slices.shape[1]
        blocks = np.zeros((len(RESOURCES), n, width), dtype=np.float32)
        excess = blocks.transpose(1, 2, 0)
        now = {MEMORY: i.mem_used_mb, DISK: i.disk_mb_s,
               NETWORK: i.net_mb_s}
        for col in columns:
            out = blocks[col]
            if col == CPU:
                # a share of the vCPUs, at most 1 (below 0 is below the
                # load now, cut below); then in cores
                np.minimum(slices[:, :, CPU], 1.0, out=out)
                out -= np.asarray(i.cpu_util[rows], dtype=np.float32)[:, None]
                out *= np.asarray(i.vcpus[rows], dtype=np.float32)[:, None]
            else:
                np.subtract(slices[:, :, col],
                            np.asarray(now[col][rows],
                                       dtype=np.float32)[:, None],
                            out=out)
            # fmax: a slice without a sample (NaN) adds nothing
            np.fmax(out, 0.0, out=out)
        return excess

    def host_recent_excess(self, excess=None, columns=None):
        """Per host and recent slice, its guests' excess summed, or None.

        Shape (hosts, slices, 4), float64: slices are aligned in time
        across instances, so the maximum over a host's slices, added to
        its guests' demand now, is their worst recent moment together
        (each guest counted at the larger of its slice and its load now),
        not the sum of their peaks. None when the model has no recent
        slices.

        :param excess: :meth:`recent_excess` if already computed
        :param columns: the resources to sum (None: all four); the others
            are 0
        """
        if excess is None:
            excess = self.recent_excess(columns=columns)
        if excess is None:
            return None
        if columns is None:
            columns = range(len(RESOURCES))
        n_hosts = len(self.hosts)
        out = np.zeros((n_hosts,) + excess.shape[1:])
        host = self.instances.host
        if not len(host):
            return out
        # one weighted count per slice and resource: linear, no sort and
        # no gathered copy of the instances' rows
        for col in columns:
            for k in range(excess.shape[1]):
                out[:, k, col] = np.bincount(host, weights=excess[:, k, col],
                                             minlength=n_hosts)
        return out

    def instance_allocation(self):
        """Flavor vCPUs and memory of each instance, shape (instances, 2)."""
        i = self.instances
        return np.column_stack([i.vcpus.astype(float),
                                i.memory_mb.astype(float)])

    def _per_host(self, per_instance):
        n_hosts = len(self.hosts)
        out = np.zeros((n_hosts, per_instance.shape[1]))
        for col in range(per_instance.shape[1]):
            out[:, col] = np.bincount(self.instances.host,
                                      weights=per_instance[:, col],
                                      minlength=n_hosts)
        return out

    def guest_demand(self):
        """Sum of instance demand per host, shape (hosts, 4)."""
        return self._per_host(self.instance_demand())

    def base_load(self):
        """Demand outside the guests per host, shape (hosts, 4)."""
        base = self.hosts.base_load
        if base is None:
            return np.zeros((len(self.hosts), len(RESOURCES)))
        return np.asarray(base, dtype=float)

    def host_demand(self):
        """Demand per host, shape (hosts, 4): its guests' and its base load.

        With the measured ``base_load`` this is the host's measured load
        (in capacity units) while its guests stay; moving a guest moves
        its demand only.
        """
        demand = self.guest_demand()
        if self.hosts.base_load is not None:
            demand += self.base_load()
        return demand

    def host_allocation(self):
        """Allocated vCPUs and flavor MiB per host, shape (hosts, 2)."""
        return self._per_host(self.instance_allocation())

    def host_load(self):
        """Demand as a share of capacity, shape (hosts, 4).

        Untracked resources (capacity 0) have load 0.
        """
        cap = self.capacity()
        demand = self.host_demand()
        return np.divide(demand, cap, out=np.zeros_like(demand),
                         where=cap > 0)

    def host_thresholds(self, default):
        """Each host's thresholds, shape (hosts, 4).

        :param default: the four thresholds of hosts that have none of
            their own (the planner's ``[drs]`` thresholds)
        """
        default = np.broadcast_to(np.asarray(default, dtype=float),
                                  (len(self.hosts), len(RESOURCES)))
        own = self.hosts.thresholds
        if own is None:
            return default.copy()
        own = np.asarray(own, dtype=float)
        return np.where(np.isnan(own), default, own)

    def hot_hosts(self, thresholds):
        """Boolean (hosts, 4): the hot resources of each host.

        The agents' flags when the model has them (``hosts.hot``), else
        load above the thresholds (each host's own, or ``thresholds``).
        """
        if self.hosts.hot is not None:
            return np.asarray(self.hosts.hot, dtype=bool).copy()
        return self.host_load() > self.host_thresholds(thresholds)

    def movable(self, cooldown_s):
        """Boolean per instance: may a strategy migrate it at all?

        Not when opted out, cooling down after a recent migration, or a
        member of a hard-affinity group with other members (moving one
        member alone would break the policy Nova enforces).
        """
        inst = self.instances
        ok = ~inst.opt_out & (inst.last_migrated_s >= cooldown_s)
        for g, group in enumerate(self.groups):
            if group.policy != 'affinity':
                continue
            members = inst.group == g
            if members.sum() > 1:
                ok &= ~members
        return ok

    def copy(self):
        model = ClusterModel(
            dataclasses.replace(
                self.hosts,
                **{f.name: _copy(getattr(self.hosts, f.name))
                   for f in dataclasses.fields(Hosts) if f.name != 'names'}),
            dataclasses.replace(
                self.instances,
                **{f.name: _copy(getattr(self.instances, f.name))
                   for f in dataclasses.fields(Instances)
                   if f.name != 'names'}),
            [dataclasses.replace(g) for g in self.groups],
            self.zones, self.aggregate_sets)
        model.excluded_targets = {i: set(h) for i, h in
                                  self.excluded_targets.items()}
        return model


def _copy(array):
    return None if array is None else np.copy(array)


def thresholds_from_conf(conf):
    """Per-resource hotspot thresholds from the ``[drs]`` group."""
    return np.array(resources.thresholds_from_conf(conf))
