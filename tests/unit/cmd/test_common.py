# SPDX-License-Identifier: Apache-2.0
"""How a command-line tool ends: :func:`nova_drs.cmd.common.run`."""

import argparse
import io
from unittest import mock

import fixtures
from oslotest import base

from nova_drs.cmd import common


def _parser(func):
    parser = argparse.ArgumentParser(prog='tool')
    parser.add_argument('--debug', action='store_true')
    parser.set_defaults(func=func)
    return parser


def _fail(args):
    try:
        {}['key']
    except KeyError as e:
        raise common.CommandError('no key') from e


class TestRun(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def test_exit_code_of_the_command(self):
        self.assertEqual(7, common.run('tool', _parser(lambda args: 7), []))
        self.assertEqual('', self.stderr.getvalue())

    def test_dispatch_gets_the_arguments(self):
        seen = []

        def dispatch(args):
            seen.append(args.debug)
            return 0
        self.assertEqual(0, common.run('tool', _parser(None), ['--debug'],
                                       dispatch))
        self.assertEqual([True], seen)

    def test_command_error_is_one_line_with_its_exit_code(self):
        self.assertEqual(2, common.run('tool', _parser(_fail), []))
        self.assertEqual('tool: error: no key\n', self.stderr.getvalue())

        def failed(args):
            raise common.CommandError('migration failed',
                                      exit_code=common.EXIT_FAILED)
        self.assertEqual(1, common.run('tool', _parser(failed), []))

    def test_debug_shows_the_traceback_and_its_cause(self):
        self.assertEqual(2, common.run('tool', _parser(_fail), ['--debug']))
        err = self.stderr.getvalue()
        self.assertIn('Traceback', err)
        self.assertIn("KeyError: 'key'", err)
        self.assertEqual('tool: error: no key', err.splitlines()[-1])

    def test_parser_errors_end_the_same_way(self):
        class Parser(argparse.ArgumentParser):
            def error(self, message):
                raise common.CommandError(message)
        parser = Parser(prog='tool')
        parser.add_argument('--count', type=int)
        self.assertEqual(2, common.run('tool', parser, ['--count', 'x']))
        self.assertTrue(self.stderr.getvalue().startswith(
            "tool: error: argument --count: invalid int value: 'x'"))

    def test_interrupted(self):
        def interrupted(args):
            raise KeyboardInterrupt()
        self.assertEqual(130, common.run('tool', _parser(interrupted), []))
        self.assertEqual('tool: interrupted\n', self.stderr.getvalue())

    def test_reader_gone_is_quiet(self):
        stdout = mock.Mock(fileno=mock.Mock(return_value=41))
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        dup2 = self.useFixture(fixtures.MockPatch('os.dup2')).mock
        self.useFixture(fixtures.MockPatch('os.open', return_value=40))

        def write(args):
            raise BrokenPipeError()
        self.assertEqual(0, common.run('tool', _parser(write), []))
        dup2.assert_called_once_with(40, 41)
        self.assertEqual('', self.stderr.getvalue())
