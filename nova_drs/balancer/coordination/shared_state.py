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
seconds after its owner wrote it, and only if its host was fresh then,
i.e. its latest sample had arrived within ``stale_after``: the sample
behind a foreign host's state is therefore never older than twice
``stale_after`` (60 s by default), and usually about
``host_state_interval`` plus one agent interval.

Whose clock. A row's age is measured with the database server's clock
only: the writer stamps ``updated_at`` with it (``Database.server_now()``
read once per write) and the reader reads it once per cycle to age the
rows. Neither replica's own clock enters: a writer whose clock runs
minutes ahead does not make its rows look fresh for minutes after it
stopped writing, and one whose clock lags does not make them look too old
to use. (On SQLite, which has no server, each process's clock is used:
they share one machine.)

Whom it trusts. A row is trusted only while its writer is a live member
of the coordination group, as this replica saw the group at its latest
heartbeat (tooz membership): a replica that died with its rows still in
the table is distrusted as soon as the group drops it
(``[drs_coordination] member_timeout``), whatever its rows' age. A writer
that is alive but stuck stops rewriting its rows, which then age out
after ``stale_after``. Unknown membership (no heartbeat yet) leaves the
age as the only rule.

What the reader falls back to. A host of another replica without a
trusted row is no destination (the host view treats it as stale): the
reader has no current load of it. Its own hosts it judges by its own
agents' metrics; a host it has just taken over is used once its agent's
next report has arrived. It does not read its own rows at all
(:class:`~nova_drs.db.host_state_cache.HostStateCache` ``not_by``): with N
replicas each reads the (N-1)/N of the table the others write, not the
whole table at every cycle; a host it gave away at a rebalance is a
destination again once its new owner has written its row.
"""

import collections
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


def from_rows(rows, owned, db_now, trust_s, members=None, left_out=None):
    """SharedHost entries for the rows of hosts not in ``owned``.

    :param rows: ``host_states`` rows (:class:`~nova_drs.db.models.
        HostStateRow`)
    :param owned: hosts this replica owns (its own view is newer)
    :param db_now: the database server's time now (naive UTC), as
        ``Database.server_now()``: the clock the rows are stamped with
    :param trust_s: seconds a row is trusted after it was written
    :param members: the live members of the coordination group (replica
        ids); a row written by another is not trusted. None or empty:
        membership unknown, the rows' age alone decides
    :param left_out: a :class:`collections.Counter` (optional) counting
        the rows left out by reason: ``stale`` (the writer's view of the
        host was stale), ``old`` (written ``trust_s`` ago or more), ``gone``
        (its writer is not a member)
    :returns: host name -> :class:`SharedHost`, untrusted rows left out
    """
    if left_out is None:
        left_out = collections.Counter()
    shared = {}
    for row in rows:
        if row.host in owned:
            continue
        if row.stale:
            left_out['stale'] += 1
            continue
        if members and row.reported_by not in members:
            left_out['gone'] += 1
            continue
        # a row stamped ahead of the server's time now (a server clock
        # stepped back) is taken as just written, never as fresher
        age = max((db_now - row.updated_at).total_seconds(), 0.0)
        if age >= trust_s:
            left_out['old'] += 1
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
