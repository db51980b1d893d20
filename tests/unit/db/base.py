# SPDX-License-Identifier: Apache-2.0
"""Test cases with a migrated, empty nova-drs database.

:class:`DatabaseTestCase` is backend-neutral: :class:`SqliteTestCase` (unit
tests) gives it a SQLite file per test; the functional tests give it a
throwaway MariaDB or PostgreSQL database (tests/functional/db/base.py).
"""

import datetime
import os
import threading
import uuid

import fixtures
from oslotest import base

from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.db import api
from nova_drs.db import migration

START = datetime.datetime(2026, 1, 1, 12, 0, 0, 250000)


class FakeClock(object):
    """The database's clock: naive UTC, moved by the test."""

    def __init__(self, start=START):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)
        return self.now


def make_plan(count=2, strategy='hotspot', source='host-1',
              target='host-2', unresolved=(), decision_s=0.0421875):
    migrations = [
        plan_mod.Migration(instance=str(uuid.uuid4()), source=source,
                           target=target,
                           reason='CPU hotspot on %s (n=%d)' % (source, n),
                           transfer_mb=1024.5 + n, duration_s=12.25 + n)
        for n in range(count)]
    return plan_mod.Plan(strategy=strategy, migrations=migrations,
                         unresolved=list(unresolved), decision_s=decision_s)


def race(*funcs, timeout=60):
    """Run ``funcs`` in threads released together; return their results."""
    barrier = threading.Barrier(len(funcs))
    results = [None] * len(funcs)
    errors = []

    def run(index, func):
        try:
            barrier.wait(timeout)
            results[index] = func()
        except Exception as e:
            # raised again in the calling thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, f))
               for i, f in enumerate(funcs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return results


class DatabaseTestCase(base.BaseTestCase):
    """``self.db``: an empty database at the newest schema revision.

    ``self.clock`` is its clock; :meth:`replica` opens another
    :class:`~nova_drs.db.api.Database` on the same database, as a second
    balancer replica (or the same one after a restart) would.
    """

    def database_url(self):
        """The URL of an empty, migrated database for this test."""
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.url = self.database_url()
        self.clock = FakeClock()
        self.db = self.replica()

    def replica(self):
        # the fake clock is the server's too: the tests move time for
        # both (tests/functional/db/test_server_clock.py uses the real
        # server's)
        db = api.Database(connection=self.url, clock=self.clock,
                          server_clock=self.clock)
        self.addCleanup(db.dispose)
        return db


class SqliteTestCase(DatabaseTestCase):
    """A SQLite file per test, migrated with the alembic scripts."""

    def database_url(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        return url
