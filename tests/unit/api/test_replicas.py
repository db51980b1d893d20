# SPDX-License-Identifier: Apache-2.0
"""The replica reader: a backend it cannot reach, and the URL's password.

tooz is faked at its boundary (``get_coordinator``): its real redis
driver retries a refused connection for about a minute.
"""

import logging

import fixtures
from oslotest import base
from tooz import coordination as tooz_coordination

from nova_drs.api import errors
from nova_drs.api import replicas
from nova_drs import config

URL = 'redis://:coordination-s3cret@127.0.0.1:9?password=x&db=0'


class TestUnreachableBackend(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = config.load([])
        self.conf.set_override('backend_url', URL, 'drs_coordination')
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(levelname)s %(message)s'))

    def test_503_and_the_password_masked(self):
        def get_coordinator(url, member_id, **options):
            # as some drivers do: the URL in the error
            raise tooz_coordination.ToozConnectionError(
                'cannot connect to %s' % url)
        reader = replicas.ReplicaReader(self.conf, get_coordinator)
        self.addCleanup(reader.close)
        self.assertRaises(errors.ServiceUnavailable, reader.members)
        self.assertNotIn('coordination-s3cret', self.log.output)
        warnings = [line for line in self.log.output.splitlines()
                    if line.startswith('WARNING')]
        self.assertEqual(1, len(warnings), self.log.output)
        self.assertIn('redis://:***@127.0.0.1:9?password=***&db=0',
                      warnings[0])
        self.assertEqual(2, warnings[0].count('redis://:***@'))

    def test_a_url_the_client_refuses_is_a_503(self):
        # the redis client's own parsing: int() of a query parameter
        def get_coordinator(url, member_id, **options):
            int('abc')
        reader = replicas.ReplicaReader(self.conf, get_coordinator)
        self.addCleanup(reader.close)
        self.assertRaises(errors.ServiceUnavailable, reader.members)
        self.assertNotIn('Traceback', self.log.output)
        self.assertNotIn('coordination-s3cret', self.log.output)
