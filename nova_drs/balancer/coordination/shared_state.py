# SPDX-License-Identifier: Apache-2.0
"""The other replicas' hosts, as their owners share them.

With partitioned intake (``[drs_listener] partitions``) a replica receives
the metrics of the hosts it owns only, yet it must judge every host as a
destination. Each owner already writes a compact state of its hosts to the
database every ``[drs_balancer] host_state_interval`` seconds
(``host_states``: smoothed loads, hot flags, staleness, libvirtd; about a
hundred bytes a host, no per-guest metrics), for the Nova scheduler
plugin and the API. :func:`from_rows` turns those rows, for the hosts this
replica does not own, into :class:`SharedHost` entries the host view uses
for destinations
(:meth:`nova_drs.balancer.view.host_view.HostView.set_shared`).

Staleness bound. A row is trusted for ``[drs_listener] stale_after``
seconds after its owner wrote it (by the database's clock, which wrote
``updated_at``), and only if its host was fresh then, i.e. its latest
sample had arrived within ``stale_after``: the sample behind a foreign
host's state is therefore never older than twice ``stale_after`` (60 s by
default), and usually about ``host_state_interval`` plus one agent
interval. A row whose owner died stops being trusted ``stale_after``
after its last write; its new owner writes it again once the host's next
report reached it.
"""

import dataclasses

from nova_drs.model import cluster


@dataclasses.dataclass(frozen=True)
class SharedHost:
    """What a replica knows of a host another replica owns."""

    name: str
    #: resource -> the agent's smoothed load, share of capacity
    smoothed: dict
    #: resources its agent flags hot
    hot: tuple
    libvirt_connected: bool
    cpu_count: int
    memory_total_mb: float
    #: the replica that wrote it
    reported_by: str
    #: seconds it is still trusted for, from when it was read
    trusted_for_s: float


def from_rows(rows, owned, db_now, trust_s):
    """SharedHost entries for the rows of hosts not in ``owned``.

    :param rows: ``host_states`` rows (:class:`~nova_drs.db.models.
        HostStateRow`)
    :param owned: hosts this replica owns (its own view is newer)
    :param db_now: the database's time now (naive UTC), as ``Database.
        now()``
    :param trust_s: seconds a row is trusted after it was written
    :returns: host name -> :class:`SharedHost`, stale rows left out
    """
    shared = {}
    for row in rows:
        if row.host in owned or row.stale:
            continue
        age = max((db_now - row.updated_at).total_seconds(), 0.0)
        if age >= trust_s:
            continue
        shared[row.host] = SharedHost(
            name=row.host,
            smoothed={r: float((row.smoothed or {}).get(r, 0.0))
                      for r in cluster.RESOURCES},
            hot=tuple(r for r in cluster.RESOURCES if r in (row.hot or ())),
            libvirt_connected=row.libvirt_connected is not False,
            cpu_count=row.cpu_count, memory_total_mb=row.memory_total_mb,
            reported_by=row.reported_by, trusted_for_s=trust_s - age)
    return shared
