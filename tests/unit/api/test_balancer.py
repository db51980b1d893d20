# SPDX-License-Identifier: Apache-2.0
"""Operator control (microversion 1.2): the balancer's mode and pause, a
host's pause, and the replicas' own reports in the status."""

from nova_drs.db import models
from tests.unit.api import base
from tests.unit.db import test_control
from tests.unit.db import test_host_states

V12 = {'OpenStack-API-Version': 'drs 1.2'}
A = dict(base.ADMIN, **V12)


class TestBalancerSettings(base.ApiTestCase):

    def test_needs_microversion_1_2(self):
        for method, body in (('GET', None), ('PATCH', {'paused': True})):
            message = self.assertError(404, method, '/v1/balancer',
                                       'needs API microversion 1.2',
                                       body=body, headers=base.ADMIN)
            self.assertIn('OpenStack-API-Version: drs 1.2', message)
        self.assertFalse(self.db.balancer_settings().paused)

    def test_nothing_set(self):
        status, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual(200, status)
        self.assertEqual(
            {'mode': 'partial', 'mode_source': 'config', 'paused': False,
             'reason': None, 'updated_by': None, 'updated_at': None,
             'paused_hosts': []}, data['balancer'])

    def test_set_mode_then_back_to_configured(self):
        status, data, _ = self.request(
            'PATCH', '/v1/balancer', headers=A,
            body={'mode': 'full', 'reason': 'night shift'})
        self.assertEqual(200, status, data)
        self.assertEqual(
            {'mode': 'full', 'mode_source': 'operator', 'paused': False,
             'reason': 'night shift', 'updated_by': 'admin-user',
             'updated_at': '2026-01-01T12:00:00.250000Z',
             'paused_hosts': []}, data['balancer'])
        self.assertEqual('full', self.db.balancer_settings().mode)
        (event,) = self.db.list_events(kind='balancer.mode')
        self.assertEqual(('admin-user', 'mode configured -> full: night '
                                        'shift'),
                         (event.actor, event.message))
        _, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual('full', data['balancer']['mode'])
        _, data, _ = self.request('PATCH', '/v1/balancer', headers=A,
                                  body={'mode': None})
        self.assertEqual(('partial', 'config', None),
                         (data['balancer']['mode'],
                          data['balancer']['mode_source'],
                          data['balancer']['reason']))

    def test_pause_and_resume(self):
        _, data, _ = self.request('PATCH', '/v1/balancer', headers=A,
                                  body={'paused': True,
                                        'reason': 'SAN firmware'})
        self.assertTrue(data['balancer']['paused'])
        self.assertTrue(self.db.balancer_settings().paused)
        _, data, _ = self.request('PATCH', '/v1/balancer', headers=A,
                                  body={'paused': False})
        self.assertFalse(data['balancer']['paused'])
        self.assertEqual(['balancer.paused', 'balancer.resumed'],
                         [e.kind for e in self.db.list_events()])

    def test_bad_bodies(self):
        for body, fragment in (
                ({}, 'invalid body'),
                ({'reason': 'why not'}, 'nothing to change'),
                ({'mode': 'automatic'}, 'must be one of manual, partial, '
                                        'full'),
                ({'paused': 'yes'}, 'paused'),
                ({'mode': 'full', 'reason': 'x' * 256}, 'reason'),
                ({'mode': 'full', 'colour': 'red'}, 'colour')):
            self.assertError(400, 'PATCH', '/v1/balancer', fragment,
                             body=body, headers=A)
        self.assertEqual([], self.db.list_events())

    def test_admins_only(self):
        for persona in (base.MEMBER, base.READER, base.OTHER_MEMBER,
                        base.NO_ROLE):
            headers = dict(persona, **V12)
            self.assertError(403, 'GET', '/v1/balancer',
                             'drs:balancer:show', headers=headers)
            self.assertError(403, 'PATCH', '/v1/balancer',
                             'drs:balancer:update', body={'paused': True},
                             headers=headers)
        status, _, _ = self.request('GET', '/v1/balancer',
                                    headers=dict(base.SYSTEM_ADMIN, **V12))
        self.assertEqual(200, status)
        self.assertFalse(self.db.balancer_settings().paused)

    def test_configured_mode_is_what_live_replicas_report(self):
        test_control.report(self.db, 'r1', mode='full')
        test_control.report(self.db, 'r2', mode='full', strategy='balance')
        _, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual(('full', 'config'),
                         (data['balancer']['mode'],
                          data['balancer']['mode_source']))
        # replicas that disagree: the API's own configuration
        test_control.report(self.db, 'r2', mode='manual')
        _, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual('partial', data['balancer']['mode'])
        # a stale report does not count
        self.clock.advance(self.conf.drs_api.host_stale_after + 1)
        test_control.report(self.db, 'r1', mode='full')
        _, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual('full', data['balancer']['mode'])


class TestHostPause(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.db.save_host_states([test_host_states.host_state('host-1'),
                                  test_host_states.host_state('host-2')],
                                 'replica-a')

    def test_pause_and_resume(self):
        status, data, _ = self.request(
            'PATCH', '/v1/hosts/host-1', headers=A,
            body={'paused': True, 'reason': 'BIOS update'})
        self.assertEqual(200, status, data)
        host = data['host']
        self.assertEqual(('host-1', True, 'BIOS update', 'admin-user',
                          '2026-01-01T12:00:00.250000Z'),
                         (host['name'], host['paused'], host['pause_reason'],
                          host['paused_by'], host['paused_at']))
        _, data, _ = self.request('GET', '/v1/hosts', headers=A)
        self.assertEqual({'host-1': True, 'host-2': False},
                         {h['name']: h['paused'] for h in data['hosts']})
        _, data, _ = self.request('GET', '/v1/balancer', headers=A)
        self.assertEqual([{'host': 'host-1', 'reason': 'BIOS update',
                           'paused_by': 'admin-user',
                           'paused_at': '2026-01-01T12:00:00.250000Z'}],
                         data['balancer']['paused_hosts'])
        self.assertEqual(['host-1'],
                         list(self.db.balancer_settings().paused_hosts))

        _, data, _ = self.request('PATCH', '/v1/hosts/host-1', headers=A,
                                  body={'paused': False, 'reason': 'done'})
        self.assertEqual((False, None, None, None),
                         (data['host']['paused'],
                          data['host']['pause_reason'],
                          data['host']['paused_by'],
                          data['host']['paused_at']))
        self.assertEqual({}, self.db.balancer_settings().paused_hosts)
        self.assertEqual(
            [('host.paused', 'balancing of host-1 paused: BIOS update'),
             ('host.resumed', 'balancing of host-1 resumed: done')],
            [(e.kind, e.message) for e in self.db.list_events()])

    def test_older_versions_show_no_pause(self):
        self.db.set_host_paused('host-1', True, 'alice')
        _, data, _ = self.request('GET', '/v1/hosts/host-1',
                                  headers=base.ADMIN)
        self.assertNotIn('paused', data['host'])
        self.assertError(404, 'PATCH', '/v1/hosts/host-1', 'microversion',
                         body={'paused': False}, headers=base.ADMIN)
        self.assertTrue(self.db.balancer_settings().host_paused('host-1'))

    def test_errors(self):
        self.assertError(404, 'PATCH', '/v1/hosts/host-9', 'host-9',
                         body={'paused': True}, headers=A)
        self.assertError(400, 'PATCH', '/v1/hosts/host-1', 'paused',
                         body={'reason': 'x'}, headers=A)
        self.assertError(403, 'PATCH', '/v1/hosts/host-1', 'drs:host:update',
                         body={'paused': True},
                         headers=dict(base.MEMBER, **V12))
        self.assertEqual({}, self.db.list_host_settings())


class TestStatusReports(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.db.save_host_states([test_host_states.host_state('host-1')],
                                 'r1')
        self.replicas.list = ['r2', 'r1']

    def status(self, headers=A):
        status, data, _ = self.request('GET', '/v1/status', headers=headers)
        self.assertEqual(200, status, data)
        return data['status']

    def test_each_replica_shows_its_own_report(self):
        summary = {'origin': 'hotspot', 'mode': 'full',
                   'started_at': '2026-01-01T11:59:59Z',
                   'finished_at': '2026-01-01T12:00:00Z',
                   'duration_s': 0.5, 'migrations': 1,
                   'applied': ['p1'], 'recommended': [], 'unresolved': 0,
                   'skipped': None, 'failed': False}
        work = {'accepted': {'drs.host.metrics': 120}, 'dropped': 0,
                'hosts_owned': 1, 'partitions': 8, 'partitions_owned': 4,
                'nova_reads': 3, 'nova_full_reads': 1, 'nova_calls': 21,
                'cpu_s': 2.5, 'rss_mb': 90.0}
        test_control.report(self.db, 'r1', mode='full',
                            mode_source='operator', cycles=4,
                            last_cycle=summary, work=work)
        # a replica that died without a word: stale, no longer a member
        self.clock.advance(-3600)
        test_control.report(self.db, 'r0', host='node-0')
        self.clock.advance(3600)
        self.db.update_balancer_settings('alice', mode='full', paused=True)
        self.db.set_host_paused('host-1', True, 'alice')
        body = self.status(headers=dict(
            base.ADMIN, **{'OpenStack-API-Version': 'drs 1.4'}))
        self.assertEqual(('full', 'operator', True, ['host-1']),
                         (body['mode'], body['mode_source'], body['paused'],
                          body['paused_hosts']))
        replicas = {r['id']: r for r in body['replicas']}
        self.assertEqual(['r1', 'r2', 'r0'],
                         [r['id'] for r in body['replicas']])
        r1 = replicas['r1']
        self.assertEqual(('full', 'operator', 'hotspot', 4, False, True,
                          'node-1', 4242, summary, ['host-1']),
                         (r1['mode'], r1['mode_source'], r1['strategy'],
                          r1['cycles'], r1['stale'], r1['member'],
                          r1['host'], r1['pid'], r1['last_cycle'],
                          r1['hosts']))
        self.assertEqual(work, r1['work'])
        self.assertIsNone(replicas['r2']['work'])
        # before 1.4: no counters
        older = self.status(headers=dict(
            base.ADMIN, **{'OpenStack-API-Version': 'drs 1.3'}))
        self.assertNotIn('work', older['replicas'][0])
        # a member that never reported (an older nova-drs)
        self.assertEqual((True, True, None, None),
                         (replicas['r2']['member'], replicas['r2']['stale'],
                          replicas['r2']['mode'],
                          replicas['r2']['last_cycle']))
        self.assertEqual((False, True, 'node-0', None),
                         (replicas['r0']['member'], replicas['r0']['stale'],
                          replicas['r0']['host'],
                          replicas['r0']['last_cycle']))

    def test_version_1_0_keeps_its_shape_with_the_true_mode(self):
        test_control.report(self.db, 'r1', mode='manual')
        body = self.status(headers=base.ADMIN)
        self.assertEqual({'mode', 'strategy', 'replicas', 'hosts',
                          'hot_hosts', 'stale_hosts', 'migrations_running',
                          'plans_recommended'}, set(body))
        self.assertEqual([{'id': 'r1', 'hosts': ['host-1']},
                          {'id': 'r2', 'hosts': []}], body['replicas'])
        # what the live replica reports, not the API's configuration
        self.assertEqual('manual', body['mode'])
        self.db.update_balancer_settings('alice', mode='full')
        self.assertEqual('full', self.status(headers=base.ADMIN)['mode'])

    def test_report_age(self):
        test_control.report(self.db, 'r1')
        self.clock.advance(self.conf.drs_api.host_stale_after + 1)
        r1 = [r for r in self.status()['replicas'] if r['id'] == 'r1'][0]
        self.assertTrue(r1['stale'])
        self.assertEqual(models.MODE_SOURCE_CONFIG, r1['mode_source'])
        # reported again: fresh
        test_control.report(self.db, 'r1')
        r1 = [r for r in self.status()['replicas'] if r['id'] == 'r1'][0]
        self.assertFalse(r1['stale'])
