# SPDX-License-Identifier: Apache-2.0
"""Operators' settings and the replicas' reports (nova_drs.db.control).

:class:`ControlTests` runs on any backend: here on SQLite, in
tests/functional/db on MariaDB and PostgreSQL.
"""

import datetime

from nova_drs.balancer import plan_states
from nova_drs.db import control
from nova_drs.db import models
from tests.unit.db import base


def report(db, replica_id, **kw):
    values = dict(host='node-1', pid=4242, version='1.2.3', mode='partial',
                  mode_source='config', strategy='hotspot', paused=False,
                  started_at=base.START, cycles=0, cycle_errors=0,
                  last_cycle=None)
    values.update(kw)
    db.report_replica(replica_id, **values)


class ControlTests(object):
    """A mixin: needs ``self.db`` and ``self.clock`` (DatabaseTestCase)."""

    # -- the cluster's settings --

    def test_nothing_set(self):
        settings = self.db.balancer_settings()
        self.assertIsNone(settings.mode)
        self.assertFalse(settings.paused)
        self.assertEqual({}, settings.paused_hosts)
        self.assertEqual(models.MODE_SOURCE_CONFIG, settings.mode_source)
        self.assertEqual('partial', settings.effective_mode('partial'))

    def test_set_mode_then_back_to_configured(self):
        settings = self.db.update_balancer_settings(
            'alice', mode='full', reason='change window')
        self.assertEqual('full', settings.mode)
        self.assertEqual(models.MODE_SOURCE_OPERATOR, settings.mode_source)
        self.assertEqual('full', settings.effective_mode('manual'))
        self.assertEqual(('alice', 'change window', self.clock.now),
                         (settings.updated_by, settings.reason,
                          settings.updated_at))
        self.assertEqual(settings, self.db.balancer_settings())
        self.clock.advance(10)
        settings = self.db.update_balancer_settings('bob', mode=None)
        self.assertIsNone(settings.mode)
        self.assertEqual('manual', settings.effective_mode('manual'))
        self.assertIsNone(settings.reason)
        events = self.db.list_events(kind='balancer.')
        self.assertEqual(
            [('balancer.mode', 'alice',
              'mode configured -> full: change window'),
             ('balancer.mode', 'bob', 'mode full -> configured')],
            [(e.kind, e.actor, e.message) for e in events])
        self.assertEqual({'from': None, 'to': 'full',
                          'reason': 'change window'}, events[0].detail)

    def test_pause_and_resume(self):
        settings = self.db.update_balancer_settings(
            'alice', paused=True, reason='  storage upgrade ')
        self.assertTrue(settings.paused)
        self.assertEqual('storage upgrade', settings.reason)
        # the mode is left alone
        self.assertIsNone(settings.mode)
        self.clock.advance(60)
        settings = self.db.update_balancer_settings('bob', paused=False)
        self.assertFalse(settings.paused)
        self.assertEqual(('bob', self.clock.now),
                         (settings.updated_by, settings.updated_at))
        self.assertEqual(
            [('balancer.paused', 'automatic balancing paused: storage '
                                 'upgrade'),
             ('balancer.resumed', 'automatic balancing resumed')],
            [(e.kind, e.message)
             for e in self.db.list_events(kind='balancer.')])

    def test_mode_and_pause_in_one_change(self):
        settings = self.db.update_balancer_settings(
            'alice', mode='manual', paused=True, reason='r')
        self.assertEqual(('manual', True), (settings.mode, settings.paused))
        self.assertEqual(['balancer.mode', 'balancer.paused'],
                         [e.kind for e in self.db.list_events()])

    def test_bad_changes_write_nothing(self):
        for kwargs in ({'mode': 'automatic'}, {},
                       {'paused': True, 'reason': 'x' * 256},
                       {'paused': True, 'reason': 42}):
            self.assertRaises(ValueError, self.db.update_balancer_settings,
                              'alice', **kwargs)
        self.assertEqual([], self.db.list_events())
        self.assertEqual(control.BalancerSettings(),
                         self.db.balancer_settings())

    def test_two_operators_at_once(self):
        other = self.replica()
        results = base.race(
            lambda: self.db.update_balancer_settings('alice', mode='full'),
            lambda: other.update_balancer_settings('bob', paused=True))
        self.assertEqual(2, len(results))
        settings = self.db.balancer_settings()
        # both changes are in: neither overwrote the other's field
        self.assertEqual(('full', True), (settings.mode, settings.paused))
        self.assertEqual({'balancer.mode', 'balancer.paused'},
                         {e.kind for e in self.db.list_events()})

    # -- hosts --

    def test_pause_and_resume_a_host(self):
        row = self.db.set_host_paused('host-1', True, 'alice',
                                      reason='firmware')
        self.assertEqual(('host-1', True, 'firmware', 'alice'),
                         (row.host, row.paused, row.reason, row.updated_by))
        self.db.set_host_paused('host-2', True, 'alice')
        settings = self.db.balancer_settings()
        self.assertEqual(['host-1', 'host-2'], sorted(settings.paused_hosts))
        self.assertTrue(settings.host_paused('host-1'))
        self.assertEqual('firmware', settings.paused_hosts['host-1'].reason)
        self.assertEqual(self.clock.now,
                         settings.paused_hosts['host-1'].updated_at)

        self.clock.advance(5)
        self.db.set_host_paused('host-1', False, 'bob', reason='done')
        settings = self.db.balancer_settings()
        self.assertEqual(['host-2'], sorted(settings.paused_hosts))
        rows = self.db.list_host_settings()
        self.assertEqual((False, 'done', 'bob'),
                         (rows['host-1'].paused, rows['host-1'].reason,
                          rows['host-1'].updated_by))
        self.assertEqual(['host-2'], list(self.db.list_host_settings(
            hosts=['host-2', 'host-9'])))
        self.assertEqual({}, self.db.list_host_settings(hosts=[]))
        events = self.db.list_events(kind='host.')
        self.assertEqual(
            [('host.paused', 'alice', 'balancing of host-1 paused: '
                                      'firmware'),
             ('host.paused', 'alice', 'balancing of host-2 paused'),
             ('host.resumed', 'bob', 'balancing of host-1 resumed: done')],
            [(e.kind, e.actor, e.message) for e in events])
        self.assertEqual('host-1', events[2].detail['host'])
        self.assertTrue(events[2].detail['was_paused'])

    def test_two_operators_pause_one_host_at_once(self):
        other = self.replica()
        base.race(
            lambda: self.db.set_host_paused('host-1', True, 'alice', 'a'),
            lambda: other.set_host_paused('host-1', True, 'bob', 'b'))
        rows = self.db.list_host_settings()
        self.assertEqual(['host-1'], list(rows))
        self.assertIn(rows['host-1'].updated_by, ('alice', 'bob'))
        events = self.db.list_events(kind='host.paused')
        self.assertEqual({'alice', 'bob'}, {e.actor for e in events})
        # the second one saw the first one's pause
        self.assertEqual([False, True],
                         [e.detail['was_paused'] for e in events])

    def test_host_needs_a_name(self):
        self.assertRaises(ValueError, self.db.set_host_paused, '', True, 'a')

    # -- replica reports --

    def test_report_insert_then_replace(self):
        report(self.db, 'r1')
        self.clock.advance(2)
        summary = {'origin': 'hotspot', 'duration_s': 0.25,
                   'applied': ['p1'], 'recommended': [], 'unresolved': 0,
                   'migrations': 1}
        report(self.db, 'r1', mode='full', mode_source='operator',
               paused=True, cycles=3, cycle_errors=1, last_cycle=summary)
        report(self.db, 'r2', host='node-2')
        rows = self.db.list_replica_states()
        self.assertEqual(['r1', 'r2'], [r.replica_id for r in rows])
        r1 = rows[0]
        self.assertEqual(('node-1', 4242, '1.2.3', 'full', 'operator',
                          'hotspot', True, 3, 1),
                         (r1.host, r1.pid, r1.version, r1.mode,
                          r1.mode_source, r1.strategy, r1.paused, r1.cycles,
                          r1.cycle_errors))
        self.assertEqual(summary, r1.last_cycle)
        self.assertEqual(base.START, r1.started_at)
        self.assertEqual(self.clock.now, r1.updated_at)
        # oslo.db's JSON types store None as an empty object
        self.assertEqual({}, rows[1].last_cycle)
        self.assertEqual({}, rows[1].work)
        work = {'accepted': {'drs.host.metrics': 12}, 'dropped': 1,
                'hosts_owned': 3, 'nova_calls': 7, 'cpu_s': 1.5}
        report(self.db, 'r2', host='node-2', work=work)
        self.assertEqual(work, self.db.list_replica_states()[1].work)

    def test_report_checks_the_mode(self):
        self.assertRaises(ValueError, report, self.db, 'r1', mode='auto')
        self.assertRaises(ValueError, report, self.db, 'r1',
                          mode_source='api')
        self.assertEqual([], self.db.list_replica_states())

    def test_same_id_reported_twice_at_once(self):
        other = self.replica()
        base.race(lambda: report(self.db, 'r1', pid=1),
                  lambda: report(other, 'r1', pid=2))
        rows = self.db.list_replica_states()
        self.assertEqual(1, len(rows))
        self.assertIn(rows[0].pid, (1, 2))

    def test_clean_stop(self):
        report(self.db, 'r1')
        report(self.db, 'r2')
        self.assertTrue(self.db.delete_replica_state('r1'))
        self.assertFalse(self.db.delete_replica_state('r1'))
        self.assertEqual(['r2'], [r.replica_id
                                  for r in self.db.list_replica_states()])

    def test_purge_forgets_silent_replicas(self):
        report(self.db, 'old')
        self.clock.advance(7200)
        report(self.db, 'live')
        counts = self.db.purge(
            self.clock.now - datetime.timedelta(days=30),
            replicas_before=self.clock.now - datetime.timedelta(hours=1))
        self.assertEqual(1, counts['replica_states'])
        self.assertEqual(['live'], [r.replica_id
                                    for r in self.db.list_replica_states()])

    # -- plans applied by the balancer itself --

    def test_applied_automatically(self):
        auto = self.db.create_plan(base.make_plan(1), models.ORIGIN_HOTSPOT,
                                   'r1', supersede=False)
        manual = self.db.create_plan(base.make_plan(1),
                                     models.ORIGIN_HOTSPOT, 'r1',
                                     supersede=False)
        self.assertFalse(self.db.get_plan(auto.uuid).applied_automatically)
        self.assertTrue(self.db.transition_plan(
            auto.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'r1', automatic=True))
        self.assertTrue(self.db.transition_plan(
            manual.uuid, plan_states.PLAN_RECOMMENDED,
            plan_states.PLAN_APPLYING, 'alice'))
        self.assertTrue(self.db.get_plan(auto.uuid).applied_automatically)
        self.assertFalse(
            self.db.get_plan(manual.uuid).applied_automatically)
        event = self.db.list_events(object_uuid=auto.uuid,
                                    kind='plan.applying')[0]
        self.assertTrue(event.detail['automatic'])


class TestControlSqlite(base.SqliteTestCase, ControlTests):
    pass
