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

Staleness bound. The owner knows how old a capacity is (``age_s``:
seconds since its last read of Placement found the provider's generation
unchanged, or read it again); it stores, in the row, when that was by
the database server's clock (``confirmed_at``, whole seconds since the
epoch: :func:`to_column`), which stays the same from one write of the
row to the next until Placement confirms it again, so an unchanged row
is only stamped again (``Database.save_host_states``). A reader ages it
by the same clock. (A row written before ``confirmed_at`` has
``age_s``, its age when written, and ages from the row's ``updated_at``.)
A reader uses a capacity only while its age is at most ``[drs_balancer]
shared_capacity_max_age`` and only for the resource provider it names
(a compute node replaced gets a new provider); otherwise it reads the
host's inventories itself. An owner reads its hosts again at every
refresh whose provider listing shows a new generation, so a shared
capacity is normally ``inventory_refresh_interval`` +
``host_state_interval`` old at most.
"""

import dataclasses
import datetime
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


def _epoch(naive_utc):
    return naive_utc.replace(tzinfo=datetime.timezone.utc).timestamp()


def to_column(value, db_now):
    """The ``capacity`` column's value of :meth:`Capacity.as_dict`'s.

    ``age_s`` becomes ``confirmed_at``: ``db_now`` (the database server's
    time of the write, naive UTC) less the age, rounded to whole seconds
    so that it reads the same at every write until Placement confirms the
    capacity again. Any other mapping is returned as a plain dict.

    :raises ValueError: ``age_s`` is not a finite number of seconds
    """
    value = dict(value)
    if 'age_s' in value:
        try:
            age = float(value.pop('age_s'))
        except (TypeError, ValueError):
            age = math.nan
        if not math.isfinite(age) or age < 0:
            raise ValueError('capacity age_s must be a finite number of '
                             'seconds, not %r' % (age,))
        value['confirmed_at'] = round(_epoch(db_now) - age)
    return value


def from_dict(value, db_now=None):
    """A Capacity from a ``capacity`` column's value, or None.

    None for an empty value (the owner had not read the host) and for one
    that is not a complete, sane capacity: the reader then reads the host
    itself, which is always correct.

    :param db_now: the database server's time now (naive UTC): the age of
        a value with ``confirmed_at`` is measured against it (without it,
        such a value is None)
    """
    if not value or not isinstance(value, dict):
        return None
    try:
        if 'confirmed_at' in value:
            if db_now is None:
                return None
            # a value stamped ahead of the reader's time (a server clock
            # stepped back) is taken as just confirmed, never as fresher
            age = max(_epoch(db_now) - float(value['confirmed_at']), 0.0)
        else:
            age = float(value['age_s'])
        cap = Capacity(
            provider=str(value['provider']),
            vcpus=int(value['vcpus']), memory_mb=int(value['memory_mb']),
            reserved_host_cpus=int(value['reserved_host_cpus']),
            reserved_host_memory_mb=int(value['reserved_host_memory_mb']),
            cpu_allocation_ratio=float(value['cpu_allocation_ratio']),
            ram_allocation_ratio=float(value['ram_allocation_ratio']),
            age_s=age)
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
    :param db_now: the database server's time now (naive UTC), as
        ``Database.server_now()``: the clock the rows are stamped with
    :param max_age_s: ``[drs_balancer] shared_capacity_max_age``
    :returns: the capacities, each with ``age_s`` its age now
    """
    shared = {}
    for row in rows:
        value = getattr(row, 'capacity', None)
        cap = from_dict(value, db_now)
        if cap is None:
            continue
        age = cap.age_s
        if 'confirmed_at' not in value:
            # written before confirmed_at: its age then, plus the row's
            age += max((db_now - row.updated_at).total_seconds(), 0.0)
        if age <= max_age_s:
            shared[row.host] = dataclasses.replace(cap, age_s=age)
    return shared
