# SPDX-License-Identifier: Apache-2.0
"""The agent's balloon floors from server metadata, against the Nova lab.

The reader is built from the lab's ``[drs_nova]`` configuration with its
own connection code (:func:`nova_drs.agent.nova_metadata.connect`), as
``nova-drs-agent`` builds it with ``[drs_agent] nova_metadata = true``.
"""

import time
import uuid

from nova_drs.agent import nova_metadata
from tests.functional.nova import fixtures as nova_fixtures

KEY = 'drs:balloon_floor_mb'
HOST = 'fake-host-1'
OTHER_HOST = 'fake-host-2'
LOGGER = 'nova_drs.agent.nova_metadata'


class TestAgentMetadata(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        if len(nova_fixtures.HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        lab = self.lab
        small = lab.flavor('small', vcpus=1, ram=256)
        # boot all, then wait: Nova works on them in parallel
        servers = [
            lab.boot('floor', small, host=HOST, metadata={KEY: '300'},
                     wait=False),
            lab.boot('no-floor', small, host=HOST, wait=False),
            lab.boot('bad-floor', small, host=HOST, metadata={KEY: 'abc'},
                     wait=False),
            lab.boot('floor-elsewhere', small, host=OTHER_HOST,
                     metadata={KEY: '400'}, wait=False)]
        (self.floor, self.no_floor, self.bad_floor,
         self.elsewhere) = [lab.wait_active(s) for s in servers]
        self.assertEqual(HOST, self.floor.compute_host)
        self.assertEqual(OTHER_HOST, self.elsewhere.compute_host)
        self.conf.set_override('host', HOST, 'drs_agent')
        self.conf.set_override('nova_metadata', True, 'drs_agent')
        self.reader = nova_metadata.NovaMetadataReader.from_conf(self.conf)

    def test_floors_of_the_host_servers(self):
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            self.assertTrue(self.reader.refresh())
        floors = self.reader.floors()
        self.assertEqual(300.0, floors[self.floor.id])
        self.assertNotIn(self.no_floor.id, floors)
        self.assertNotIn(self.bad_floor.id, floors)
        # a server of another host is not returned
        self.assertNotIn(self.elsewhere.id, floors)
        listed = self.reader._listed
        self.assertIn(self.no_floor.id, listed)
        self.assertNotIn(self.elsewhere.id, listed)
        # the bad value is named in the log (once), Nova answered
        bad = [r.getMessage() for r in logs.records
               if self.bad_floor.id in r.getMessage()]
        self.assertEqual(1, len(bad), logs.output)
        self.assertIn("'abc'", bad[0])
        self.assertEqual(0, self.reader.failures)

    def test_metadata_changed_in_nova(self):
        self.reader.refresh()
        self.conn.compute.set_server_metadata(self.floor, **{KEY: '512'})
        self.conn.compute.set_server_metadata(self.no_floor, **{KEY: '256'})
        self.reader.refresh()
        floors = self.reader.floors()
        self.assertEqual(512.0, floors[self.floor.id])
        self.assertEqual(256.0, floors[self.no_floor.id])

    def test_guest_not_listed_is_looked_up(self):
        # e.g. being live-migrated in: Nova places it on its source host
        # until the migration ends
        self.reader.refresh()
        missing = str(uuid.uuid4())
        self.reader.floors([self.floor.id, self.elsewhere.id, missing])
        self.reader.lookup([self.elsewhere.id, missing])
        floors = self.reader.floors()
        self.assertEqual(400.0, floors[self.elsewhere.id])
        self.assertEqual(300.0, floors[self.floor.id])
        self.assertNotIn(missing, floors)
        self.assertEqual(0, self.reader.failures)

    def test_background_thread(self):
        self.reader.start()
        self.addCleanup(self.reader.stop)
        floors = nova_fixtures.wait_for(
            lambda: self.reader.floors([self.floor.id]).get(self.floor.id),
            30, 'the first listing')
        self.assertEqual(300.0, floors)
        # a guest Nova did not list on this host is looked up at once
        nova_fixtures.wait_for(
            lambda: self.reader.floors(
                [self.floor.id, self.elsewhere.id]).get(self.elsewhere.id),
            30, 'the lookup of a guest not listed')
        self.assertEqual(1, self.reader.listings)
        started = time.monotonic()
        self.reader.stop()
        self.assertLess(time.monotonic() - started, 5)

    def test_nova_unreachable_keeps_the_last_floors(self):
        self.reader.refresh()
        self.conf.set_override('endpoint', 'http://127.0.0.1:9/v2.1',
                               'drs_nova')
        self.conf.set_override('timeout', 5, 'drs_nova')
        down = nova_metadata.NovaMetadataReader.from_conf(self.conf)
        down._floors = self.reader.floors()
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            self.assertFalse(down.refresh())
        self.assertIn('keeping the last ones known', logs.output[0])
        self.assertEqual(300.0, down.floors()[self.floor.id])
