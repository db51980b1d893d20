# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-manage db sync`` and ``db version``.

:class:`ManageTests` runs the command as a subprocess against any backend:
here SQLite, in tests/functional/db MariaDB and PostgreSQL.
"""

import io
import os
import sqlite3
import subprocess
import sys

import fixtures
from oslotest import base

from nova_drs.cmd import manage
from nova_drs.db import migration

#: a port nothing listens on
CLOSED_PORT = 1


def write_conf(directory, url, extra=''):
    path = os.path.join(directory, 'nova-drs.conf')
    with open(path, 'w', encoding='utf-8') as f:
        # no waiting between connection attempts in tests
        f.write('[drs_database]\nconnection = %s\nmax_retries = 1\n'
                'retry_interval = 0\n%s' % (url, extra))
    return path


def run_manage(*args, timeout=120):
    """Run ``nova-drs-manage ARGS`` in a new process: (rc, out, err)."""
    proc = subprocess.run(
        [sys.executable, '-m', 'nova_drs.cmd.manage'] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class ManageTests(object):
    """The command in a subprocess (a mixin).

    Needs ``self.url`` (an empty database), ``self.tmp`` (a directory) and
    ``self.unreachable_url`` (the same backend where nothing answers).
    """

    def test_sync_and_version(self):
        conf = write_conf(self.tmp, self.url)
        rc, out, err = run_manage('--config-file', conf, 'db', 'version')
        self.assertEqual((0, ''), (rc, err), out)
        self.assertEqual('none (empty database; run nova-drs-manage db '
                         'sync)\n', out)

        rc, out, err = run_manage('--config-file', conf, 'db', 'sync')
        self.assertEqual((0, ''), (rc, err), out)
        self.assertIn('database upgraded from revision none to 0008', out)
        self.assertEqual('0008', migration.version(None, connection=self.url))

        rc, out, err = run_manage('db', 'sync', '--config-file', conf)
        self.assertEqual((0, ''), (rc, err), out)
        self.assertIn('database already at revision 0008', out)

        rc, out, err = run_manage('db', 'version', '--config-file', conf)
        self.assertEqual((0, '0008 (newest)\n', ''), (rc, out, err))

    def test_unreachable(self):
        conf = write_conf(self.tmp, self.unreachable_url)
        for command in ('sync', 'version'):
            rc, out, err = run_manage('--config-file', conf, 'db', command)
            self.assertEqual(2, rc, err)
            self.assertEqual('', out)
            self.assertIn('nova-drs-manage: error: cannot connect to the '
                          'database', err)
            self.assertNotIn('Traceback', err)
            self.assertNotIn('secret', err)


class TestManageSqlite(base.BaseTestCase, ManageTests):
    """The command on SQLite, as a subprocess."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.url = 'sqlite:///' + os.path.join(self.tmp, 'nova-drs.sqlite')
        self.unreachable_url = ('mysql+pymysql://nova_drs:secret@127.0.0.1:'
                                '%d/nova_drs' % CLOSED_PORT)

    def test_debug_shows_the_traceback(self):
        conf = write_conf(self.tmp, 'sqlite:///' + os.path.join(
            self.tmp, 'missing', 'x.sqlite'))
        rc, out, err = run_manage('--config-file', conf, 'db', 'sync')
        self.assertEqual(2, rc)
        self.assertNotIn('Traceback', err)
        rc, out, err = run_manage('--config-file', conf, 'db', 'sync',
                                  '--debug')
        self.assertEqual(2, rc)
        self.assertIn('Traceback', err)


class TestManageInProcess(base.BaseTestCase):
    """Every outcome of the command, called in this process."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.url = 'sqlite:///' + os.path.join(self.tmp, 'nova-drs.sqlite')
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))
        # oslo.log would reconfigure this process's logging
        self.useFixture(fixtures.MockPatch(
            'nova_drs.cmd.manage.logging.setup'))

    def manage(self, *args):
        return manage.main(list(args))

    def error_for(self, url, *args, extra=''):
        conf = write_conf(self.tmp, url, extra)
        rc = self.manage('--config-file', conf, 'db', 'sync', *args)
        self.assertEqual('', self.stdout.getvalue())
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(1, len(lines), lines)
        self.assertTrue(lines[0].startswith('nova-drs-manage: error: '),
                        lines[0])
        return rc, lines[0]

    def test_sync_to_a_revision(self):
        conf = write_conf(self.tmp, self.url)
        self.assertEqual(0, self.manage('--config-file', conf, 'db', 'sync',
                                        '--revision', '0001'))
        self.assertEqual('%s: database upgraded from revision none to 0001\n'
                         % self.url, self.stdout.getvalue())
        self.assertEqual('', self.stderr.getvalue())

    def test_version_behind(self):
        conf = write_conf(self.tmp, self.url)
        migration.upgrade(None, connection=self.url)
        self.useFixture(fixtures.MockPatch(
            'nova_drs.db.migration.head', return_value='0009'))
        self.assertEqual(0, self.manage('--config-file', conf, 'db',
                                        'version'))
        self.assertEqual('0008 (newest is 0009; run nova-drs-manage db '
                         'sync)\n', self.stdout.getvalue())

    def test_several_config_files(self):
        first = write_conf(self.tmp, 'sqlite:////nonexistent/x.sqlite')
        second = os.path.join(self.tmp, 'override.conf')
        with open(second, 'w', encoding='utf-8') as f:
            f.write('[drs_database]\nconnection = %s\n' % self.url)
        self.assertEqual(0, self.manage('--config-file', first,
                                        '--config-file', second, 'db',
                                        'sync'))
        self.assertEqual('0008', migration.version(None, connection=self.url))

    def test_config_dir(self):
        conf_dir = os.path.join(self.tmp, 'conf.d')
        os.mkdir(conf_dir)
        write_conf(conf_dir, self.url)
        self.assertEqual(0, self.manage('db', 'sync', '--config-dir',
                                        conf_dir))
        self.assertEqual('0008', migration.version(None, connection=self.url))

    def test_bad_url(self):
        rc, line = self.error_for('not a url')
        self.assertEqual(2, rc)
        self.assertIn("invalid [drs_database] connection 'not a url'", line)
        self.stderr.truncate(0)
        self.stderr.seek(0)
        rc, line = self.error_for('mysql+pymysql://u:secret@db:port/d')
        self.assertEqual(2, rc)
        self.assertIn("invalid [drs_database] connection "
                      "'mysql+pymysql://u:***@db:port/d'", line)

    def test_unknown_database_type(self):
        rc, line = self.error_for('bogus://u:secret@h/d')
        self.assertEqual(2, rc)
        self.assertIn('unknown database type', line)
        self.assertNotIn('secret', line)

    def test_driver_not_installed(self):
        rc, line = self.error_for('mysql+mysqldb://u:secret@127.0.0.1/d')
        self.assertEqual(2, rc)
        self.assertIn('the database driver for mysql+mysqldb://u:***@'
                      '127.0.0.1/d is not installed', line)

    def test_unreachable(self):
        rc, line = self.error_for('mysql+pymysql://u:secret@127.0.0.1:%d/d'
                                  % CLOSED_PORT)
        self.assertEqual(2, rc)
        self.assertIn('cannot connect to the database mysql+pymysql://'
                      'u:***@127.0.0.1:%d/d' % CLOSED_PORT, line)

    def test_sqlite_directory_missing(self):
        path = os.path.join(self.tmp, 'missing', 'nova-drs.sqlite')
        rc, line = self.error_for('sqlite:///' + path)
        self.assertEqual(2, rc)
        self.assertIn('cannot open the SQLite database %s' % path, line)
        self.assertIn('the directory %s must exist'
                      % os.path.dirname(path), line)

    def test_empty_connection(self):
        rc, line = self.error_for('')
        self.assertEqual(2, rc)
        self.assertIn('[drs_database] connection is not set', line)

    def test_unknown_revision(self):
        rc, line = self.error_for(self.url, '--revision', 'abc')
        self.assertEqual(2, rc)
        self.assertIn("db sync: Can't locate revision identified by 'abc'",
                      line)

    def test_invalid_option(self):
        rc, line = self.error_for(self.url, extra='max_pool_size = -5\n')
        self.assertEqual(2, rc)
        self.assertIn('[drs_database] max_pool_size', line)

    def test_missing_config_file(self):
        rc = self.manage('--config-file', os.path.join(self.tmp, 'no.conf'),
                         'db', 'version')
        self.assertEqual(2, rc)
        self.assertIn('no.conf', self.stderr.getvalue())

    def test_migration_fails(self):
        """A database error during the migration: exit code 1."""
        path = os.path.join(self.tmp, 'nova-drs.sqlite')
        with sqlite3.connect(path) as db:
            db.execute('CREATE TABLE plans (x INTEGER)')
        rc, line = self.error_for(self.url)
        self.assertEqual(1, rc)
        self.assertIn('db sync failed on %s' % self.url, line)
        self.assertIn('already exists', line)

    def test_usage(self):
        for args in ([], ['db'], ['db', 'drop'], ['nope']):
            self.stderr.truncate(0)
            self.stderr.seek(0)
            self.assertEqual(2, self.manage(*args), args)
            self.assertIn('nova-drs-manage: error:', self.stderr.getvalue())
