# SPDX-License-Identifier: Apache-2.0
import json
import os

import fixtures
from oslotest import base

from nova_drs.agent import state
from nova_drs import balloon
from tests.unit import clusters


class TestStateFile(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.now = 1000.0      # the policy's monotonic clock
        self.wall = 1.7e9      # Unix time
        self.conf = clusters.conf(drs_balloon__demand_window_s=3600.0)

    def policy(self):
        return balloon.load('adaptive', self.conf, clock=lambda: self.now)

    def file(self, directory=None):
        return state.StateFile(self.dir if directory is None else directory,
                               wallclock=lambda: self.wall)

    def test_round_trip_across_a_restart(self):
        p = self.policy()
        p.demand.add('g', self.now, 3000.0)
        self.assertTrue(self.file().save(p))
        # restarted 10 min later, with a new monotonic clock
        self.wall += 600.0
        self.now = 5.0
        q = self.policy()
        self.assertEqual(1, self.file().load(q))
        self.assertEqual(3000.0, q.demand.peak('g'))
        self.assertAlmostEqual(600.0, q.demand.history_s('g', self.now))

    def test_missing_bad_or_foreign_file_starts_empty(self):
        p = self.policy()
        self.assertEqual(0, self.file().load(p))
        path = os.path.join(self.dir, state.FILE_NAME)
        for text in ('{not json', '[]',
                     json.dumps({'version': 1, 'policy': 'other',
                                 'saved_at': 0, 'balloon': {}}),
                     json.dumps({'version': 99, 'policy': 'adaptive'})):
            with open(path, 'w') as f:
                f.write(text)
            self.assertEqual(0, self.file().load(p), text)
            self.assertIsNone(p.demand.peak('g'))

    def test_unwritable_directory_is_a_warning(self):
        blocker = os.path.join(self.dir, 'file')
        with open(blocker, 'w') as f:
            f.write('x')
        logger = self.useFixture(fixtures.FakeLogger())
        f = self.file(os.path.join(blocker, 'sub'))
        p = self.policy()
        self.assertFalse(f.save(p))
        self.assertFalse(f.save(p))
        # once per kind of error, not every save
        self.assertEqual(1, logger.output.count('Cannot save'))

    def test_disabled(self):
        f = self.file('')
        self.assertFalse(f.save(self.policy()))
        self.assertEqual(0, f.load(self.policy()))
