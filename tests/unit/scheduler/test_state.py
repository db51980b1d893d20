# SPDX-License-Identifier: Apache-2.0
"""nova_drs.scheduler.state: the snapshot, its refresh thread, its bounds."""

import datetime
import json
import logging as std_logging
import os
import socket
import time

from oslo_db import exception as db_exc
from oslotest import base as oslo_base
import sqlalchemy as sa

from nova_drs.db import api as db_api
from nova_drs.scheduler import state as state_mod
from tests import polling
from tests.unit.db import test_host_states
from tests.unit.scheduler import base


def closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Row(object):
    def __init__(self, host, updated_at, hot=(), stale=False, smoothed=None,
                 load=None):
        self.host, self.updated_at, self.hot = host, updated_at, list(hot)
        self.stale, self.smoothed, self.load = stale, smoothed, load or {}


class TestBuildSnapshot(oslo_base.BaseTestCase):

    NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)

    def ago(self, seconds):
        return self.NOW - datetime.timedelta(seconds=seconds)

    def test_entries(self):
        snap = state_mod.build_snapshot(
            [Row('a', self.ago(10), hot=['cpu'],
                 smoothed={'cpu': 0.25, 'memory': 1.5}),
             Row('b', self.ago(59), load={'cpu': 0.5}),
             Row('old', self.ago(61)),
             Row('stale', self.ago(1), stale=True)],
            {'b': ['i-1', 'i-2']}, max_age=60.0, wall_now=self.NOW,
            now=500.0)
        self.assertEqual({'a', 'b'}, set(snap.hosts))
        self.assertEqual(('old', 'stale'), snap.unknown_hosts)
        a = snap.hosts['a']
        self.assertEqual(('cpu',), a.hot)
        self.assertEqual(0.5, a.cpu_headroom)
        self.assertEqual(-1.0, a.memory_headroom)
        self.assertEqual(550.0, a.fresh_until)
        # no smoothed loads: the raw ones; a missing resource is neutral
        self.assertEqual(0.0, snap.hosts['b'].cpu_headroom)
        self.assertEqual(0.0, snap.hosts['b'].memory_headroom)
        self.assertEqual(501.0, snap.hosts['b'].fresh_until)
        self.assertEqual({'b': ('i-1', 'i-2')}, snap.reserved)
        self.assertEqual(560.0, snap.fresh_until)

    def test_row_from_the_future_is_trusted_max_age_only(self):
        # the balancer's clock is ahead of the scheduler's
        snap = state_mod.build_snapshot(
            [Row('a', self.NOW + datetime.timedelta(seconds=30))], {},
            max_age=60.0, wall_now=self.NOW, now=0.0)
        self.assertEqual(60.0, snap.hosts['a'].fresh_until)

    def test_current_lookups(self):
        snap = state_mod.build_snapshot([Row('a', self.ago(50))],
                                        {'a': ['i-1']}, 60.0, self.NOW, 0.0)
        self.assertIsNotNone(state_mod.Current(snap, 9.0).host('a'))
        self.assertIsNone(state_mod.Current(snap, 11.0).host('a'))
        self.assertIsNone(state_mod.Current(snap, 0.0).host('b'))
        self.assertEqual(1, state_mod.Current(snap, 0.0).reserved('a'))
        self.assertEqual(0, state_mod.Current(snap, 0.0).reserved('b'))
        # the reservation of the instance being scheduled does not count
        self.assertEqual(0, state_mod.Current(snap, 0.0).reserved('a', 'i-1'))
        self.assertEqual(1, state_mod.Current(snap, 0.0).reserved('a', 'i-2'))


class TestRateLimitedLog(oslo_base.BaseTestCase):

    def test_once_per_interval_per_kind(self):
        clock = base.MonotonicClock(0.0)
        log = state_mod.RateLimitedLog(lambda: 60.0, clock)
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.assertTrue(log.log(std_logging.WARNING, 'a', 'first %s', 1))
            self.assertFalse(log.log(std_logging.WARNING, 'a', 'again'))
            self.assertFalse(log.log(std_logging.WARNING, 'a', 'again'))
            self.assertTrue(log.log(std_logging.WARNING, 'b', 'other'))
            clock.advance(60)
            self.assertTrue(log.log(std_logging.WARNING, 'a', 'later'))
        self.assertEqual(['first 1', 'other',
                          'later (2 similar message(s) not logged)'],
                         [r.getMessage() for r in logs.records])


class TestRefresh(base.SchedulerDataTestCase):

    def test_refresh_reads_rows_and_reservations(self):
        self.report(hot={'fake-host-1': ['cpu']})
        plan = self.reserve('fake-host-2', count=2)
        snap = self.state.refresh()
        self.assertEqual(('cpu',), snap.hosts['fake-host-1'].hot)
        self.assertEqual({'fake-host-2'}, set(snap.reserved))
        self.assertEqual(sorted(a.instance_uuid for a in plan.actions),
                         sorted(snap.reserved['fake-host-2']))
        self.assertIs(snap, self.state.current().snapshot)
        self.assertEqual(1, self.state.counters['refreshes'])

    def test_rows_aged_by_the_database_servers_clock(self):
        # this nova-scheduler host's own clock is irrelevant: the rows are
        # aged by the clock that stamped them (Database.server_now)
        def database(conf):
            db = db_api.Database(conf, server_clock=self.clock)
            self.addCleanup(db.dispose)
            return db
        state = self.make_state(wall_clock=None, database_factory=database)
        self.report(hot={'fake-host-1': ['cpu']})
        self.assertEqual(('cpu',),
                         state.refresh().hosts['fake-host-1'].hot)
        # the server's time passes beyond max_age (60 s), nothing written
        self.clock.advance(61)
        self.assertNotIn('fake-host-1', state.refresh().hosts)

    def test_refresh_reads_the_changes_and_sees_deletions(self):
        self.assertIsNone(self.state.host_state_reads())
        self.report()
        self.state.refresh()
        hosts = len(base.HOSTS)
        self.assertEqual((True, hosts),
                         (self.state.host_state_reads()['last']['full'],
                          self.state.host_state_reads()['last']['rows']))
        self.advance(5)
        self.report(hot={'fake-host-1': ['memory']}, hosts=['fake-host-1'])
        snap = self.state.refresh()
        self.assertEqual(('memory',), snap.hosts['fake-host-1'].hot)
        self.assertEqual(set(base.HOSTS), set(snap.hosts))
        last = self.state.host_state_reads()['last']
        self.assertEqual((False, 1), (last['full'], last['rows']))
        # a host the balancer forgot is gone at the next refresh
        self.db.delete_host_states(hosts=['fake-host-2'])
        self.advance(5)
        snap = self.state.refresh()
        self.assertEqual(set(base.HOSTS) - {'fake-host-2'}, set(snap.hosts))
        self.assertEqual(('memory',), snap.hosts['fake-host-1'].hot)
        # rows that aged are unknown, as with a read of the whole table
        self.advance(61)
        snap = self.state.refresh()
        self.assertEqual({}, snap.hosts)
        self.assertEqual(hosts - 1, len(snap.unknown_hosts))

    def test_refresh_does_not_read_the_balloon_column(self):
        # the per-guest balloon column is the largest and the plugins do
        # not judge by it: a read that carried it would count its bytes
        guests = {'guest-%d' % n: {'actual_mb': 4096, 'target_mb': 2048,
                                   'flavor_mb': 8192} for n in range(200)}
        balloon = {'reclaimed_mb': 409600, 'guests': guests}
        state = test_host_states.host_state('fake-host-1', balloon=balloon)
        self.db.save_host_states([state], 'replica-a')
        snap = self.state.refresh()
        self.assertIn('fake-host-1', snap.hosts)
        read = self.state.host_state_reads()['last']
        self.assertEqual(1, read['rows'])
        self.assertLess(read['bytes'], len(json.dumps(balloon)))
        # the column is stored: another reader gets it whole
        self.assertEqual(balloon, self.db.list_host_states()[0].balloon)

    def test_refresh_does_not_read_the_capacity_column(self):
        # the balancer replicas' shared Placement capacity is not the
        # plugins' business either
        capacity = {'provider': 'rp-%s' % ('x' * 400), 'vcpus': 32,
                    'memory_mb': 65536, 'reserved_host_cpus': 0,
                    'reserved_host_memory_mb': 0,
                    'cpu_allocation_ratio': 4.0,
                    'ram_allocation_ratio': 1.0, 'age_s': 1.0}
        state = test_host_states.host_state('fake-host-1', capacity=capacity)
        self.db.save_host_states([state], 'replica-a')
        snap = self.state.refresh()
        self.assertIn('fake-host-1', snap.hosts)
        read = self.state.host_state_reads()['last']
        self.assertEqual(1, read['rows'])
        self.assertLess(read['bytes'], len(json.dumps(capacity)))
        # it is there, stored as when Placement confirmed it
        self.assertEqual(capacity['provider'],
                         self.db.list_host_states()[0].capacity['provider'])

    def test_missing_sqlite_file_is_not_created(self):
        path = os.path.join(os.path.dirname(self.url[len('sqlite:///'):]),
                            'missing.sqlite')
        self.conf.set_override('connection', 'sqlite:///' + path,
                               group='drs_database')
        e = self.assertRaises(state_mod.DataUnavailable, self.state.refresh)
        self.assertIn('does not exist', str(e))
        self.assertFalse(os.path.exists(path))

    def test_database_file_moved_away_is_not_recreated(self):
        self.report()
        self.state.refresh()
        path = self.url[len('sqlite:///'):]
        os.rename(path, path + '.away')
        self.assertRaises(state_mod.DataUnavailable, self.state.refresh)
        self.assertFalse(os.path.exists(path))
        os.rename(path + '.away', path)
        self.assertEqual(3, len(self.state.refresh().hosts))

    def test_file_moved_after_the_check_is_not_recreated(self):
        # the file goes away between check_database and the read: the
        # read-only connection fails instead of creating an empty file
        self.report()
        db = state_mod.open_database(self.conf)
        self.addCleanup(db.dispose)
        self.assertEqual(3, len(db.list_host_states()))
        path = self.url[len('sqlite:///'):]
        os.rename(path, path + '.away')
        self.assertRaises(state_mod._read_errors(), db.list_host_states)
        self.assertFalse(os.path.exists(path))
        os.rename(path + '.away', path)
        self.assertEqual(3, len(db.list_host_states()))

    def test_read_only_url(self):
        ro = state_mod.read_only_url
        url = sa.engine.make_url(ro('sqlite:////var/lib/drs x/a%25.db'))
        # SQLite reads the database as a URI, percent-encoded
        self.assertEqual('file:/var/lib/drs%20x/a%25.db', url.database)
        self.assertEqual({'mode': 'ro', 'uri': 'true'}, dict(url.query))
        for url in ('sqlite://', 'sqlite:///:memory:',
                    'sqlite:///file:/a.db?mode=ro&uri=true',
                    'mysql+pymysql://u:p@h/nova_drs'):
            self.assertEqual(url, ro(url))

    def test_thread_starts_on_first_use_and_survives_errors(self):
        self.conf.set_override('refresh_interval', 0.5,
                               group='drs_scheduler')
        self.report(hot={'fake-host-1': ['memory']})
        calls = []

        def flaky(conf):
            calls.append(1)
            if len(calls) == 1:
                raise db_exc.DBConnectionError('database is down')
            if len(calls) == 2:
                raise KeyError('a bug')
            return state_mod.open_database(conf)

        state = self.make_state(clock=time.monotonic,
                                wall_clock=state_mod.utcnow,
                                database_factory=flaky, autostart=True)
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.assertIsNone(state.current())
            self.assertTrue(state.running())
            self.assertTrue(polling.wait_for(
                lambda: state.current() is not None))
        messages = '\n'.join(logs.output)
        self.assertIn('cannot read the nova-drs database, retrying every '
                      '0.5 s: database is down', messages)
        self.assertIn('unexpected error reading the nova-drs database',
                      messages)
        self.assertIn("KeyError: 'a bug'", messages)
        self.assertEqual(2, state.counters['refresh_errors'])
        # the rows were written with the test's fixed clock: too old now
        self.assertIsNone(state.current().host('fake-host-1'))
        self.assertTrue(state.running())
        state.stop()
        self.assertFalse(state.running())

    def test_unreachable_database(self):
        self.conf.set_override(
            'connection', 'mysql+pymysql://nova_drs:secret@127.0.0.1:%d/x'
            % closed_port(), group='drs_database')
        self.conf.set_override('max_retries', 1, group='drs_database')
        self.conf.set_override('retry_interval', 0, group='drs_database')
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.state._refresh_logged()
        self.assertIn('cannot read the nova-drs database', logs.output[0])
        self.assertNotIn('secret', '\n'.join(logs.output))
        self.assertIsNone(self.state.current())

    def test_forked_child_starts_its_own_thread(self):
        self.report(hot={'fake-host-1': ['cpu']})
        state = self.make_state(clock=time.monotonic, autostart=True)
        state.refresh()
        self.assertIsNotNone(state.current())
        self.assertTrue(state.running())
        # NOTE: not in the middle of the thread's first read: a lock the
        # database driver held then would stay held in the child
        polling.wait_for(lambda: state.counters['refreshes'] >= 2)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:           # the child: report, never return
            code = 1
            try:
                before = state.counters['refreshes']
                started = state.running()
                inherited = state.current() is not None
                refreshed = polling.wait_for(
                    lambda: state.counters['refreshes'] > before, 5)
                os.write(write_end, ('%s %s %s' % (
                    inherited, started, refreshed)).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _pid, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as f:
            answer = f.read()
        self.assertEqual(0, status)
        # the child had the parent's snapshot, its own thread (started by
        # the fork handler) refreshed it through its own connection pool
        self.assertEqual('True True True', answer)
        self.assertTrue(state.running())
