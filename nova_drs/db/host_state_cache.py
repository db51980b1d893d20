# SPDX-License-Identifier: Apache-2.0
"""The ``host_states`` table, kept in memory and read by its changes.

Every balancer replica reads the other replicas' hosts from
``host_states`` at each cycle (:mod:`nova_drs.balancer.coordination.
shared_state`), and every nova-scheduler process every ``[drs_scheduler]
refresh_interval`` seconds (:mod:`nova_drs.scheduler.state`): about
190 bytes a host as stored, some 20 MB a read at 100,000 hosts. A
:class:`HostStateCache` keeps the rows by host and reads only those
written since its previous read; what it returns is what a read of the
whole table would have returned at the time of its read.

How it finds the changes. Each replica stamps the rows it writes with the
database server's clock (``Database.server_now()``; on SQLite, which has
no server, the writer's own clock), read once before each write. A
global watermark would still be fragile (a write stamped before another
may commit after it), and on SQLite the clocks of different writers may
disagree by seconds or more. The cache therefore keeps,
per replica (``reported_by``), the newest ``updated_at`` it has read from
that replica, and asks for that replica's rows stamped after it; the rows
of a replica it has never seen are all read
(``Database.list_host_states_since``). This needs no overlap and no
watermark from a shared clock: a replica writes its states from one
thread, one transaction at a time, and each transaction stamps all its
rows with one time read before it (microseconds); a write that commits
after the cache's read was therefore stamped after every stamp of that
replica the read returned, whatever the other clocks say. (A watermark
with an overlap of a few seconds would re-read every replica's latest
write at each read that comes before its next one: a nova-scheduler
refreshing every 5 s would read each 10 s write twice, as many rows as
full reads.) What this does not cover: the stamping clock (the server's,
or a SQLite writer's) stepped back (NTP), whose writes stay unseen until
it passes its newest earlier stamp again, or until the next full read;
and two processes writing under the same replica id.

Deletions. ``Database.delete_host_states`` leaves no row to read. Before
each read of the changes the cache counts the rows; when the table, after
the changes are applied, does not hold as many hosts as the cache, hosts
were deleted (an insertion is always among the changes) and it reads the
whole table at once. A deletion is therefore seen at the first read that
starts after it committed: no later than a full read would see it.

Full reads. The first read, and one every ``full_read_interval`` seconds
(monotonic clock; ``[drs_balancer] host_state_full_read_interval``,
``[drs_scheduler] full_refresh_interval``), read the whole table: they
bound how long a change hidden by a clock step, or by anything else this
reasoning missed, can stay hidden. 0 reads the whole table every time.

Cost. A read of the changes is one ``COUNT(*)`` (an index scan in the
server, nothing sent) and the rows changed: at 100,000 hosts on SQLite,
1,000 rows changed, 0.13 s instead of 4-6 s for the whole table. Each
replica rewrites all its hosts every ``[drs_balancer]
host_state_interval`` seconds, so a reader whose reads are further apart
than that still gets every live host at each read; the saving is then
the hosts no replica writes any more. The counters
(:meth:`HostStateCache.stats`) show what the reads transferred.
"""

import json
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: Rows whose stored size is measured per read; the bytes of a read are
#: their mean times the rows read (the estimate is for the counters).
_SIZE_SAMPLE = 16

#: bytes of the fixed-size columns: two datetimes, two floats/integers...
_FIXED_BYTES = 8 * 6 + 2


def _row_bytes(row):
    """About the bytes ``row`` takes on the wire (its stored columns)."""
    size = _FIXED_BYTES + len(row.host) + len(row.reported_by or '')
    size += len(row.consolidation or '')
    # NOTE: from the row's loaded values: a column not read is not counted
    # (and would raise if read)
    loaded = row.__dict__
    for column in ('hot', 'load', 'smoothed', 'balloon', 'capacity'):
        value = loaded.get(column)
        if value is not None:
            size += len(json.dumps(value))
    return size


def _estimate_bytes(rows):
    if not rows:
        return 0
    sample = rows[:_SIZE_SAMPLE]
    return int(round(sum(_row_bytes(r) for r in sample)
                     * len(rows) / len(sample)))


class HostStateCache(object):
    """The rows of ``host_states`` by host, refreshed by their changes.

    Not thread-safe: one reader (a balancer's cycle, a scheduler's refresh
    thread) calls :meth:`read`.

    :param full_read_interval: seconds between two reads of the whole
        table (0: every read is one)
    :param clock: monotonic clock, for ``full_read_interval``
    :param without: columns not read (see
        ``Database.list_host_states_since``)
    :param not_by: a reporter whose rows are never read (a balancer
        replica reading the other replicas' hosts leaves its own out: it
        wrote them from a newer view, and reading them would cost it, at
        each cycle, as many rows as it owns)
    """

    def __init__(self, full_read_interval, clock=time.monotonic,
                 without=(), not_by=None):
        self.full_read_interval = full_read_interval
        self.without = tuple(without)
        self.not_by = not_by
        self._clock = clock
        self._rows = None          # host -> HostStateRow; None: never read
        self._marks = {}           # reporter -> newest updated_at read
        self._full_at = None       # monotonic time of the last full read
        self.counters = {'reads': 0, 'full_reads': 0, 'rows': 0,
                         'bytes': 0}
        #: what the latest read transferred: full, rows, bytes, hosts
        self.last = None

    def read(self, db):
        """The rows of every host, as a read of the whole table now.

        :param db: :class:`nova_drs.db.api.Database`
        :returns: a list of :class:`~nova_drs.db.models.HostStateRow`, in
            no set order (do not change them: the cache keeps them)
        :raises: what reading the database raises; the cache is then as
            it was
        """
        started = self._clock()
        rows, read, full = None, [], self._full_due(started)
        if not full:
            expected = db.count_host_states(
                **({'not_by': self.not_by} if self.not_by else {}))
            read = db.list_host_states_since(dict(self._marks),
                                             **self._options())
            rows = dict(self._rows)
            rows.update((row.host, row) for row in read)
            if len(rows) != expected:
                LOG.debug('host_states holds %d row(s), the cache %d after '
                          'the changes: hosts were deleted, reading them '
                          'all', expected, len(rows))
                full = True
        if full:
            everything = db.list_host_states_since({}, **self._options())
            read = read + everything
            rows = {row.host: row for row in everything}
            self._full_at = started
            self._marks = {}
            changes = everything
        else:
            changes = read
        for row in changes:
            mark = self._marks.get(row.reported_by)
            if mark is None or row.updated_at > mark:
                self._marks[row.reported_by] = row.updated_at
        self._rows = rows
        self._count(read, full, len(rows), self._clock() - started)
        return list(rows.values())

    def _options(self):
        # only when set: a database double without the argument still works
        options = {'without': self.without} if self.without else {}
        if self.not_by:
            options['not_by'] = self.not_by
        return options

    def _full_due(self, now):
        if self._rows is None or self._full_at is None:
            return True
        return now - self._full_at >= self.full_read_interval

    def _count(self, read, full, hosts, duration_s):
        size = _estimate_bytes(read)
        self.counters['reads'] += 1
        self.counters['full_reads'] += int(full)
        self.counters['rows'] += len(read)
        self.counters['bytes'] += size
        self.last = {'full': full, 'rows': len(read), 'bytes': size,
                     'hosts': hosts, 'duration_s': round(duration_s, 6)}
        LOG.debug('host states: %s read of %d row(s), about %d bytes, %d '
                  'host(s) known (%.3f s)', 'full' if full else 'delta',
                  len(read), size, hosts, duration_s)

    def stats(self):
        """Counters since it was made, and what the latest read cost."""
        out = dict(self.counters)
        out['last'] = dict(self.last) if self.last else None
        return out
