# SPDX-License-Identifier: Apache-2.0
"""Run one ``openstack drs`` command class against a fake client."""

import io
import json

import fixtures
from oslotest import base
import yaml

from tests.unit.osc import fakes


class UsageError(Exception):
    """argparse refused the arguments (it exits with status 2)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class CommandTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.client = fakes.FakeClient()
        self.compute = fakes.FakeCompute([])
        self.app = fakes.FakeApp(self.client, self.compute)

    def run_command(self, cls, argv):
        """Parse ``argv`` as OSC would and run; returns the output."""
        cmd = cls(self.app, None)
        parser = cmd.get_parser('openstack drs')
        stderr = io.StringIO()
        with fixtures.MonkeyPatch('sys.stderr', stderr):
            try:
                parsed = parser.parse_args(argv)
            except SystemExit as exc:
                self.assertEqual(2, exc.code)
                raise UsageError(stderr.getvalue())
        self.app.stdout = io.StringIO()
        cmd.run(parsed)
        return self.app.stdout.getvalue()

    def run_json(self, cls, argv):
        return json.loads(self.run_command(cls, list(argv) + ['-f', 'json']))

    def run_yaml(self, cls, argv):
        return yaml.safe_load(self.run_command(cls,
                                               list(argv) + ['-f', 'yaml']))

    def assertUsageError(self, cls, argv, *fragments):
        exc = self.assertRaises(UsageError, self.run_command, cls, argv)
        for fragment in fragments:
            self.assertIn(fragment, exc.message)
        self.assertEqual([], self.client.calls)
