# SPDX-License-Identifier: Apache-2.0
"""The nova-drs filter and weigher in the lab's real nova-scheduler.

The lab's nova-scheduler loads DRSHotspotFilter and DRSLoadWeigher by
import path and reads the lab's nova-drs database
(``tools/lab/nova-start.sh``: refresh every 0.5 s, data trusted 5 s).
These tests write that database as the balancer does
(``Database.save_host_states``, plans and actions), boot servers through
Nova's API and look where Nova put them.
"""

import datetime
import os
import time

from nova_drs.balancer import plan_states
from nova_drs.balancer.view import host_view
from nova_drs.db import api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.nova import fixtures
from tests.unit.db import base as db_base

#: long enough for the scheduler to read what a test wrote
SETTLE = fixtures.DRS_REFRESH_INTERVAL * 4


def host_state(name, hot=(), cpu=0.3, memory=0.4):
    load = {'cpu': cpu, 'memory': memory, 'disk': 0.0, 'network': 0.0}
    return host_view.HostState(
        name=name, stale=False, sampled_at=time.time(), received_at=None,
        load=load, smoothed=dict(load), hot=tuple(hot),
        cpu_count=8, memory_total_mb=16384.0, guests=(),
        libvirt_connected=True, agent_dropped_notifications=0)


class TestSchedulerPlugin(fixtures.NovaLabTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if fixtures.skip_requested():
            return
        # outside the per-test lock: a restart waits for other tests
        try:
            fixtures.ensure_scheduler_plugins()
        except fixtures.LabUnavailable as e:
            cls.plugin_error = str(e)
        else:
            cls.plugin_error = None

    def setUp(self):
        super().setUp()
        if self.plugin_error:
            self.fail(self.plugin_error)
        # the lab made its database with the schema of the checkout that
        # started it, which may be older than this one's (a column added):
        # brought to this checkout's. The lab's nova-scheduler reads the
        # columns it knows, so it is not affected; nova-start.sh makes a
        # new database at each start
        migration.upgrade(None, connection=fixtures.DRS_DATABASE_URL)
        self.db = api.Database(connection=fixtures.DRS_DATABASE_URL)
        self.addCleanup(self.db.dispose)
        # leave the lab's nova-drs data empty, as the other tests expect
        self.addCleanup(self._forget_everything)
        self._forget_everything()
        self.flavor = self.lab.flavor('small', vcpus=1, ram=256)

    def _forget_everything(self):
        plans = self.db.list_plans(state=[plan_states.PLAN_RECOMMENDED,
                                          plan_states.PLAN_APPLYING])
        for plan in plans:
            self.db.cancel_plan(plan.uuid, 'nova-drs functional test')
        deleted = self.db.delete_host_states(keep=[])
        # the scheduler's view changes only if there was something to
        # forget (after an earlier test's cleanup there is nothing)
        if plans or deleted:
            time.sleep(SETTLE)

    def report(self, hot, clock=None):
        """Write every host's state; ``hot``: {host: resources}."""
        db = self.db
        if clock is not None:
            db = api.Database(connection=fixtures.DRS_DATABASE_URL,
                              clock=clock)
            self.addCleanup(db.dispose)
        db.save_host_states([host_state(h, hot.get(h, ()))
                             for h in fixtures.HOSTS], 'functional-test')
        time.sleep(SETTLE)

    def reserve(self, target):
        """A plan being applied, with a pending migration to ``target``."""
        plan = self.db.create_plan(db_base.make_plan(1, target=target),
                                   models.ORIGIN_HOTSPOT, 'functional-test',
                                   supersede=False)
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'functional-test')
        time.sleep(SETTLE)

    def host_of(self, server):
        return self.conn.compute.get_server(server.id).compute_host

    def boot_fails(self, name):
        server = self.lab.boot(name, self.flavor, wait=False)
        server = self.conn.compute.wait_for_server(
            server, status='ERROR', failures=['ACTIVE'], interval=0.3,
            wait=120)
        return server

    def test_avoids_hot_hosts(self):
        hosts = fixtures.HOSTS
        for cool in (hosts[-1], hosts[0]):
            self.report({h: ['cpu'] for h in hosts if h != cool})
            server = self.lab.boot('avoid-hot-' + cool, self.flavor)
            self.assertEqual(cool, self.host_of(server))

    def test_avoids_reserved_destinations(self):
        hosts = fixtures.HOSTS
        self.report({hosts[0]: ['memory']})
        self.reserve(hosts[1])
        server = self.lab.boot('avoid-reserved', self.flavor)
        self.assertEqual(hosts[2], self.host_of(server))

    def test_no_host_left_is_no_valid_host(self):
        # the filter is strict while its data is current
        self.report({h: ['cpu'] for h in fixtures.HOSTS})
        server = self.boot_fails('all-hot')
        self.assertIn('No valid host', (server.fault or {}).get('message',
                                                                ''))

    def test_stale_rows_do_not_block(self):
        # every host hot, but as written an hour ago
        written = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
        self.report({h: ['cpu'] for h in fixtures.HOSTS},
                    clock=lambda: written)
        server = self.lab.boot('stale-rows', self.flavor)
        self.assertIn(self.host_of(server), fixtures.HOSTS)

    def test_database_down_does_not_block(self):
        # current data says every host is hot: nothing can boot...
        self.report({h: ['cpu'] for h in fixtures.HOSTS})
        self.boot_fails('before-outage')
        # ...then the nova-drs database goes away for longer than max_age
        away = fixtures.DRS_DATABASE + '.away'
        os.rename(fixtures.DRS_DATABASE, away)
        self.addCleanup(os.rename, away, fixtures.DRS_DATABASE)
        time.sleep(fixtures.DRS_MAX_AGE + SETTLE)
        server = self.lab.boot('during-outage', self.flavor)
        self.assertIn(self.host_of(server), fixtures.HOSTS)
        # nova-scheduler did not create an empty database meanwhile
        self.assertFalse(os.path.exists(fixtures.DRS_DATABASE))
