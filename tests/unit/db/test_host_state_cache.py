# SPDX-License-Identifier: Apache-2.0
"""HostStateCache: reading ``host_states`` by its changes.

:class:`HostStateCacheTests` runs on any backend: here on SQLite, in
tests/functional/db on MariaDB and PostgreSQL.
"""

import datetime
import random

import sqlalchemy as sa

from nova_drs.balancer.coordination import shared_state
from nova_drs.db import api
from nova_drs.db import host_state_cache
from tests.unit.db import base
from tests.unit.db import test_host_states


class Monotonic(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def snapshot(rows):
    """What a reader sees of rows: host -> the columns it uses."""
    return {row.host: (row.reported_by, row.updated_at, row.stale,
                       tuple(row.hot), tuple(sorted(row.smoothed.items())),
                       row.cpu_count)
            for row in rows}


class HostStateCacheTests(object):
    """Tests of :class:`host_state_cache.HostStateCache` (a mixin).

    Needs ``self.db``, ``self.clock`` and ``self.url``.
    """

    def writer(self, offset_s):
        """Another replica's Database, its clock ``offset_s`` off."""
        clock = self.clock
        db = api.Database(connection=self.url, clock=lambda: (
            clock.now + datetime.timedelta(seconds=offset_s)))
        self.addCleanup(db.dispose)
        return db

    def test_same_view_as_full_reads_through_writes_and_deletes(self):
        """Interleaved writes, deletes and reads: always the full view.

        Three replicas whose clocks disagree by minutes (the reader's
        marks are per replica), hosts taken over by another replica,
        hosts deleted and written again.
        """
        rng = random.Random(16)
        writers = {'replica-a': self.writer(0), 'replica-b': self.writer(-600),
                   'replica-c': self.writer(+90)}
        monotonic = Monotonic()
        # no periodic full read in this test: only the deletions force one
        cache = host_state_cache.HostStateCache(10 ** 6, clock=monotonic)
        names = ['host-%02d' % n for n in range(40)]
        deletions = 0
        for step in range(60):
            for _ in range(rng.randint(0, 3)):
                reporter = rng.choice(sorted(writers))
                # a real clock moves on between two writes (microseconds)
                self.clock.advance(0.000001)
                hosts = rng.sample(names, rng.randint(1, 8))
                writers[reporter].save_host_states(
                    [test_host_states.host_state(
                        h, cpu=rng.random(), stale=rng.random() < 0.1,
                        hot=['cpu'] if rng.random() < 0.2 else [])
                     for h in hosts], reporter)
            if rng.random() < 0.15:
                deletions += self.db.delete_host_states(
                    hosts=rng.sample(names, 2))
            self.clock.advance(rng.choice([0, 0.5, 3, 10]))
            monotonic.now += 10
            cached = cache.read(self.db)
            full = self.db.list_host_states()
            self.assertEqual(snapshot(full), snapshot(cached), step)
            # and what the balancer makes of them
            now = self.clock.now
            self.assertEqual(
                shared_state.from_rows(full, {'host-00'}, now, 30.0),
                shared_state.from_rows(cached, {'host-00'}, now, 30.0),
                step)
        self.assertGreater(deletions, 0)
        stats = cache.stats()
        self.assertEqual(60, stats['reads'])
        # reads of the changes did happen (a full read after each deletion)
        self.assertLess(stats['full_reads'], 30)
        self.assertGreater(stats['full_reads'], 1)

    def test_not_by_a_reporter_is_the_full_view_without_its_rows(self):
        """A replica leaves its own rows out: the others' rows, current.

        Through hosts taken over in both directions and deletions.
        """
        rng = random.Random(17)
        writers = {'replica-a': self.writer(0), 'replica-b': self.writer(-60),
                   'replica-c': self.writer(+30)}
        monotonic = Monotonic()
        cache = host_state_cache.HostStateCache(10 ** 6, clock=monotonic,
                                                not_by='replica-a')
        names = ['host-%02d' % n for n in range(30)]
        for step in range(50):
            for _ in range(rng.randint(1, 3)):
                reporter = rng.choice(sorted(writers))
                self.clock.advance(0.000001)
                writers[reporter].save_host_states(
                    [test_host_states.host_state(h, cpu=rng.random())
                     for h in rng.sample(names, rng.randint(1, 8))],
                    reporter)
            if rng.random() < 0.1:
                self.db.delete_host_states(hosts=rng.sample(names, 2))
            self.clock.advance(rng.choice([0, 0.5, 3]))
            monotonic.now += 10
            cached = cache.read(self.db)
            others = [r for r in self.db.list_host_states()
                      if r.reported_by != 'replica-a']
            self.assertEqual(snapshot(others), snapshot(cached), step)
        self.assertNotIn('replica-a', {r.reported_by for r in cached})

    def test_not_by_hosts_swapped_between_reporters(self):
        monotonic = Monotonic()
        cache = host_state_cache.HostStateCache(10 ** 6, clock=monotonic,
                                                not_by='replica-a')
        state = test_host_states.host_state
        self.db.save_host_states([state('host-x')], 'replica-b')
        self.db.save_host_states([state('host-y')], 'replica-a')
        self.assertEqual(['host-x'], [r.host for r in cache.read(self.db)])
        # the two replicas swap them: as many rows of others as before
        self.clock.advance(1)
        self.db.save_host_states([state('host-x')], 'replica-a')
        self.db.save_host_states([state('host-y', cpu=0.5)], 'replica-b')
        monotonic.now += 10
        rows = cache.read(self.db)
        self.assertEqual([('host-y', 'replica-b', 0.5)],
                         [(r.host, r.reported_by, r.load['cpu'])
                          for r in rows])

    def test_delta_reads_only_the_changes(self):
        self.db.save_host_states(
            [test_host_states.host_state('host-%d' % n) for n in range(20)],
            'replica-a')
        monotonic = Monotonic()
        cache = host_state_cache.HostStateCache(300, clock=monotonic)
        self.assertEqual(20, len(cache.read(self.db)))
        self.assertEqual({'full': True, 'rows': 20, 'hosts': 20},
                         {k: cache.last[k] for k in ('full', 'rows',
                                                     'hosts')})
        self.assertGreater(cache.last['bytes'], 20 * 100)
        # the rows read are the rewritten ones only
        self.clock.advance(1)
        self.db.save_host_states(
            [test_host_states.host_state('host-3', cpu=0.9)], 'replica-a')
        monotonic.now += 10
        rows = {r.host: r for r in cache.read(self.db)}
        self.assertEqual(20, len(rows))
        self.assertEqual(0.45, rows['host-3'].smoothed['cpu'])
        self.assertEqual({'full': False, 'rows': 1, 'hosts': 20},
                         {k: cache.last[k] for k in ('full', 'rows',
                                                     'hosts')})
        # nothing written since: nothing read
        monotonic.now += 10
        cache.read(self.db)
        self.assertEqual((0, 20), (cache.last['rows'], cache.last['hosts']))
        self.clock.advance(1)
        self.db.save_host_states(
            [test_host_states.host_state('host-4')], 'replica-a')
        monotonic.now += 10
        cache.read(self.db)
        self.assertEqual(1, cache.last['rows'])
        # full_read_interval after the last full read: everything again
        monotonic.now += 300
        cache.read(self.db)
        self.assertEqual({'full': True, 'rows': 20, 'hosts': 20},
                         {k: cache.last[k] for k in ('full', 'rows',
                                                     'hosts')})
        self.assertEqual({'reads': 5, 'full_reads': 2, 'rows': 42},
                         {k: cache.stats()[k] for k in ('reads',
                                                        'full_reads',
                                                        'rows')})

    def test_without_a_column(self):
        # a balancer replica reads the other replicas' rows without their
        # balloon (the largest column, which it does not use): fewer bytes
        state = test_host_states.host_state('host-1')
        state.__dict__['balloon'] = {'guests': {'g-%d' % n: {
            'actual_mb': 4096.0} for n in range(40)}}
        self.db.save_host_states([state], 'replica-a')
        whole = host_state_cache.HostStateCache(300, clock=Monotonic())
        lean = host_state_cache.HostStateCache(300, clock=Monotonic(),
                                               without=('balloon',))
        self.assertEqual(40, len(whole.read(self.db)[0].balloon['guests']))
        row, = lean.read(self.db)
        self.assertEqual(0.25, row.load['cpu'])
        self.assertLess(lean.last['bytes'], whole.last['bytes'] - 40 * 20)
        # not read, and never loaded behind the reader's back
        self.assertRaises(sa.exc.SQLAlchemyError, getattr, row,
                          'balloon')
        # the delta reads leave it out too
        self.clock.advance(1)
        self.db.save_host_states([state], 'replica-a')
        lean.read(self.db)
        self.assertEqual((False, 1), (lean.last['full'], lean.last['rows']))
        self.assertNotIn('balloon', lean.read(self.db)[0].__dict__)

    def test_a_deletion_is_seen_at_the_next_read(self):
        self.db.save_host_states(
            [test_host_states.host_state('host-%d' % n) for n in range(5)],
            'replica-a')
        cache = host_state_cache.HostStateCache(10 ** 6, clock=Monotonic())
        cache.read(self.db)
        self.clock.advance(60)
        self.db.delete_host_states(hosts=['host-1'])
        # and a new host, so the number of rows alone would not tell
        self.db.save_host_states([test_host_states.host_state('host-9')],
                                 'replica-b')
        rows = cache.read(self.db)
        self.assertEqual(['host-0', 'host-2', 'host-3', 'host-4', 'host-9'],
                         sorted(r.host for r in rows))
        self.assertTrue(cache.last['full'])

    def test_interval_zero_reads_everything_every_time(self):
        self.db.save_host_states(
            [test_host_states.host_state('host-%d' % n) for n in range(3)],
            'replica-a')
        cache = host_state_cache.HostStateCache(0, clock=Monotonic())
        for _ in range(3):
            cache.read(self.db)
            self.assertEqual((True, 3), (cache.last['full'],
                                         cache.last['rows']))

    def test_a_clock_stepped_back_is_bounded_by_the_full_read(self):
        """A clock stepped back hides writes until the next full read."""
        self.db.save_host_states([test_host_states.host_state('host-1')],
                                 'replica-a')
        monotonic = Monotonic()
        cache = host_state_cache.HostStateCache(60, clock=monotonic)
        cache.read(self.db)
        self.clock.advance(-60)
        self.db.save_host_states(
            [test_host_states.host_state('host-1', cpu=0.9)], 'replica-a')
        monotonic.now += 30
        row, = cache.read(self.db)
        self.assertEqual(0.125, row.smoothed['cpu'])
        monotonic.now += 30
        row, = cache.read(self.db)
        self.assertEqual(0.45, row.smoothed['cpu'])

    def test_a_failed_read_leaves_the_cache_as_it_was(self):
        self.db.save_host_states([test_host_states.host_state('host-1')],
                                 'replica-a')
        monotonic = Monotonic()
        cache = host_state_cache.HostStateCache(300, clock=monotonic)
        cache.read(self.db)
        self.clock.advance(10)
        self.db.save_host_states([test_host_states.host_state('host-2')],
                                 'replica-a')

        class Broken(object):
            def count_host_states(self):
                return 2

            def list_host_states_since(self, since):
                raise RuntimeError('the database went away')
        self.assertRaises(RuntimeError, cache.read, Broken())
        self.assertEqual(1, cache.stats()['reads'])
        rows = cache.read(self.db)
        self.assertEqual(['host-1', 'host-2'], sorted(r.host for r in rows))
        self.assertFalse(cache.last['full'])


class TestHostStateCacheSqlite(base.SqliteTestCase, HostStateCacheTests):
    pass
