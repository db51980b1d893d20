# SPDX-License-Identifier: Apache-2.0
"""Shared host states judged by the database server's clock, on MariaDB.

Two balancer replicas whose clocks are ten minutes off, one ahead and one
behind, write their hosts' states; a third replica reads them as a cycle
does (``HostStateCache`` and ``shared_state.from_rows``, aged by
``Database.server_now()``). Stamped with each writer's clock, as before,
the lagging writer's fresh rows would be ten minutes old and never
trusted, and the leading writer's rows would stay trusted for ten minutes
after it stopped. The tests use the real server clock, so they wait real
seconds (a trust bound of 2 s).
"""

import datetime
import time

from oslo_utils import timeutils

from nova_drs.balancer.coordination import shared_state
from nova_drs.db import api
from nova_drs.db import host_state_cache
from tests.functional.db import base
from tests.unit.db import test_host_states

#: seconds a row is trusted after it was written ([drs_listener]
#: stale_after in the balancer; short, the test waits it out)
TRUST_S = 2.0


def skewed(offset_s):
    """A replica's clock, ``offset_s`` off the real time."""
    return lambda: (timeutils.utcnow()
                    + datetime.timedelta(seconds=offset_s))


class ServerClockTests(object):
    """Needs a ``BACKEND`` with a server clock (``server_now``)."""

    def replica_db(self, offset_s):
        # the real server clock: no server_clock given
        db = api.Database(connection=self.url, clock=skewed(offset_s))
        self.addCleanup(db.dispose)
        return db

    def write(self, db, replica, hosts):
        db.save_host_states([test_host_states.host_state(h) for h in hosts],
                            replica)

    def trusted(self, reader, cache, members):
        rows = cache.read(reader)
        return sorted(shared_state.from_rows(
            rows, set(), reader.server_now(), TRUST_S, members=members))

    def test_server_now_is_the_servers_utc_time(self):
        db = self.replica_db(3600)
        before = timeutils.utcnow()
        server = db.server_now()
        after = timeutils.utcnow()
        # the server runs on this machine: its UTC time is ours, not the
        # process's skewed one (and not its local time zone's)
        self.assertLessEqual(before - datetime.timedelta(seconds=1), server)
        self.assertLessEqual(server, after + datetime.timedelta(seconds=1))
        self.assertGreater(db.now() - server, datetime.timedelta(
            seconds=3500))

    def test_rows_of_skewed_writers_are_trusted_for_the_bound(self):
        ahead, behind = self.replica_db(600), self.replica_db(-600)
        reader = self.replica_db(90)
        cache = host_state_cache.HostStateCache(300)
        members = {'ahead', 'behind', 'reader'}
        start = reader.server_now()
        self.write(ahead, 'ahead', ['a-1', 'a-2'])
        self.write(behind, 'behind', ['b-1', 'b-2'])
        end = reader.server_now()
        # stamped by the server, whatever the writers' clocks say
        for row in reader.list_host_states():
            self.assertTrue(start <= row.updated_at <= end,
                            (row.host, row.updated_at, start, end))
        self.assertEqual(['a-1', 'a-2', 'b-1', 'b-2'],
                         self.trusted(reader, cache, members))
        # 'ahead' stops writing (stuck, or dead before the group noticed);
        # 'behind' goes on: only its rows stay trusted past the bound
        deadline = time.monotonic() + TRUST_S + 0.5
        while time.monotonic() < deadline:
            self.write(behind, 'behind', ['b-1', 'b-2'])
            time.sleep(0.25)
        self.assertEqual(['b-1', 'b-2'],
                         self.trusted(reader, cache, members))
        # 'behind' leaves the group: its fresh rows are distrusted at once
        self.write(behind, 'behind', ['b-1', 'b-2'])
        self.assertEqual([], self.trusted(reader, cache,
                                          members - {'behind'}))
        # the delta reads saw every write of both (nothing hidden by
        # their clocks): the cache agrees with a full read
        self.assertEqual(
            {r.host: r.updated_at for r in reader.list_host_states()},
            {r.host: r.updated_at for r in cache.read(reader)})


class TestServerClockMySQL(base.MigratedDatabaseTestCase, ServerClockTests):
    BACKEND = 'mysql'


class TestServerClockPostgreSQL(base.MigratedDatabaseTestCase,
                                ServerClockTests):
    BACKEND = 'postgresql'
