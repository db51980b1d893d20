# SPDX-License-Identifier: Apache-2.0
"""A host's Placement capacity, as replicas share it through host states.

A full read of Placement costs one request per compute host (Placement
has no request for the inventories of several providers), at start and
every ``[drs_balancer] inventory_full_resync_interval``. With several
replicas, each replica reads the inventories of the hosts it owns
(:meth:`nova_drs.balancer.view.nova_view.NovaCollector.set_partial`) and
writes what it read into its hosts' ``host_states`` rows (the
``capacity`` column, with the other compact per-host state); the other
replicas take those hosts' capacities from the rows instead of asking
Placement. Together the replicas then make one full read's requests, not
one each.

Staleness bound. A row's capacity says how old it was when its owner
wrote it (``age_s``: seconds since the owner's last read of Placement
found the provider's generation unchanged, or read it again); the row
itself ages from its ``updated_at``, by the database's clock. A reader
uses a capacity only while the sum is at most ``[drs_balancer]
shared_capacity_max_age`` and only for the resource provider it names
(a compute node replaced gets a new provider); otherwise it reads the
host's inventories itself. An owner reads its hosts again at every
refresh whose provider listing shows a new generation, so a shared
capacity is normally ``inventory_refresh_interval`` +
``host_state_interval`` old at most.
"""

import dataclasses
import math

#: the keys of the column's JSON object
FIELDS = ('provider', 'vcpus', 'memory_mb', 'reserved_host_cpus',
          'reserved_host_memory_mb', 'cpu_allocation_ratio',
          'ram_allocation_ratio', 'age_s')


@dataclasses.dataclass(frozen=True)
class Capacity:
    """VCPU and MEMORY_MB inventories of one host's resource provider.

    As Placement has them (``total``, ``reserved``, ``allocation_ratio``),
    not yet judged: the reader applies the same rules to a shared
    capacity as to one it read (a host with everything reserved is
    disabled, and so on).
    """

    #: the resource provider (compute node) uuid they were read from
    provider: str
    vcpus: int
    memory_mb: int
    reserved_host_cpus: int
    reserved_host_memory_mb: int
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    #: seconds since Placement last confirmed them, when it was shared
    age_s: float = 0.0

    def as_dict(self):
        """The ``host_states.capacity`` column's value."""
        return dataclasses.asdict(self)


def from_dict(value):
    """A Capacity from a ``capacity`` column's value, or None.

    None for an empty value (the owner had not read the host) and for one
    that is not a complete, sane capacity: the reader then reads the host
    itself, which is always correct.
    """
    if not value or not isinstance(value, dict):
        return None
    try:
        cap = Capacity(
            provider=str(value['provider']),
            vcpus=int(value['vcpus']), memory_mb=int(value['memory_mb']),
            reserved_host_cpus=int(value['reserved_host_cpus']),
            reserved_host_memory_mb=int(value['reserved_host_memory_mb']),
            cpu_allocation_ratio=float(value['cpu_allocation_ratio']),
            ram_allocation_ratio=float(value['ram_allocation_ratio']),
            age_s=float(value['age_s']))
    except (KeyError, TypeError, ValueError):
        return None
    numbers = (cap.cpu_allocation_ratio, cap.ram_allocation_ratio, cap.age_s)
    if cap.vcpus <= 0 or cap.memory_mb <= 0 or not cap.provider or \
            not all(math.isfinite(n) for n in numbers) or cap.age_s < 0:
        return None
    return cap


def from_rows(rows, db_now, max_age_s):
    """host -> Capacity of the rows whose capacity is recent enough.

    :param rows: ``host_states`` rows (``host``, ``updated_at``,
        ``capacity``)
    :param db_now: the database's time now (naive UTC), as
        ``Database.now()``
    :param max_age_s: ``[drs_balancer] shared_capacity_max_age``
    :returns: the capacities, each with ``age_s`` its age now
    """
    shared = {}
    for row in rows:
        cap = from_dict(getattr(row, 'capacity', None))
        if cap is None:
            continue
        age = cap.age_s + max(
            (db_now - row.updated_at).total_seconds(), 0.0)
        if age <= max_age_s:
            shared[row.host] = dataclasses.replace(cap, age_s=age)
    return shared
