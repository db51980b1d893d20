# SPDX-License-Identifier: Apache-2.0
"""Throwaway MariaDB and PostgreSQL databases for the functional tests.

Each test class (or test, where it needs an empty database) gets a
database with a random ``drs_ft_*`` name, created with oslo.db's
provisioning code and dropped afterwards. The servers are reached as
``openstack_citest`` (OpenStack's usual test credentials), which
``tools/lab/databases.sh`` sets up; other servers can be named with:

* ``NOVA_DRS_TEST_MYSQL_URL`` (default
  ``mysql+pymysql://openstack_citest:openstack_citest@127.0.0.1:3306/``),
* ``NOVA_DRS_TEST_POSTGRESQL_URL`` (default
  ``postgresql+psycopg2://openstack_citest:openstack_citest@127.0.0.1:5432/postgres``),

users that may create and drop databases named ``drs_ft_*``.

A server that cannot be reached fails the tests, with a message naming
the setup script; they are skipped only when ``NOVA_DRS_SKIP_DB=1``.
"""

import os
import threading
import unittest
import uuid

import fixtures
from oslo_db.sqlalchemy import provision
from oslotest import base as oslo_base
import sqlalchemy as sa

from nova_drs.db import migration
from nova_drs.db import models
from tests.unit.db import base

SETUP = 'tools/lab/databases.sh'
ADMIN_URLS = {
    'mysql': os.environ.get(
        'NOVA_DRS_TEST_MYSQL_URL',
        'mysql+pymysql://openstack_citest:openstack_citest@127.0.0.1:3306/'),
    'postgresql': os.environ.get(
        'NOVA_DRS_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://openstack_citest:openstack_citest@'
        '127.0.0.1:5432/postgres'),
}
NAMES = {'mysql': 'MariaDB/MySQL', 'postgresql': 'PostgreSQL'}
PREFIX = 'drs_ft_'


class BackendUnavailable(Exception):
    """The database server cannot be used; the message says why."""


def skip_requested():
    return os.environ.get('NOVA_DRS_SKIP_DB') == '1'


class Backend(object):
    """A database server on which to create throwaway databases."""

    _lock = threading.Lock()
    _backends = {}

    def __init__(self, name):
        self.name = name
        self.admin_url = sa.engine.make_url(ADMIN_URLS[name])
        self.impl = provision.BackendImpl.impl(name)
        self.engine = None
        self.error = None

    @classmethod
    def get(cls, name):
        """The backend, checked once per process.

        :raises unittest.SkipTest: NOVA_DRS_SKIP_DB=1
        :raises BackendUnavailable: the server cannot be used
        """
        if skip_requested():
            raise unittest.SkipTest('NOVA_DRS_SKIP_DB=1')
        with cls._lock:
            backend = cls._backends.get(name)
            if backend is None:
                backend = cls._backends[name] = cls(name)
                backend._connect()
        if backend.error:
            raise BackendUnavailable(backend.error)
        return backend

    def _connect(self):
        where = self.admin_url.render_as_string(hide_password=True)
        try:
            engine = sa.create_engine(self.admin_url,
                                      poolclass=sa.pool.NullPool)
            engine.connect().close()
        except ImportError as e:
            self.error = ('the %s driver for %s is not installed (%s): '
                          'pip install -r requirements.txt'
                          % (NAMES[self.name], where, e))
            return
        except sa.exc.DBAPIError as e:
            reason = ' '.join(str(e.orig).split())
            self.error = (
                'cannot connect to %s at %s: %s. Run %s (as root) to '
                'install and start MariaDB and PostgreSQL with the test '
                'user, or set NOVA_DRS_SKIP_DB=1 to skip the database '
                'tests.' % (NAMES[self.name], where, reason, SETUP))
            return
        self.engine = engine

    def create_database(self):
        """A new empty database: (name, URL)."""
        ident = PREFIX + uuid.uuid4().hex[:12]
        self.impl.create_named_database(self.engine, ident)
        url = self.impl.provisioned_database_url(self.admin_url, ident)
        return ident, url.render_as_string(hide_password=False)

    def drop_database(self, ident):
        self.impl.drop_named_database(self.engine, ident, conditional=True)


class MigratedDatabaseTestCase(base.DatabaseTestCase):
    """One migrated database per test class, emptied after each test."""

    BACKEND = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = Backend.get(cls.BACKEND)
        cls.ident, cls.class_url = cls.backend.create_database()
        try:
            migration.upgrade(None, connection=cls.class_url)
        except Exception:
            cls.backend.drop_database(cls.ident)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.backend.drop_database(cls.ident)
        super().tearDownClass()

    def database_url(self):
        self.addCleanup(self._empty_tables)
        return self.class_url

    def _empty_tables(self):
        engine = sa.create_engine(self.class_url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                for table in reversed(models.Base.metadata.sorted_tables):
                    conn.execute(table.delete())
        finally:
            engine.dispose()


class EmptyDatabaseTestCase(oslo_base.BaseTestCase):
    """``self.url``: a new empty database for each test; ``self.tmp``."""

    BACKEND = None

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        backend = Backend.get(self.BACKEND)
        ident, self.url = backend.create_database()
        self.addCleanup(backend.drop_database, ident)
