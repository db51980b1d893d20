# SPDX-License-Identifier: Apache-2.0
"""The database layer on MariaDB/MySQL (throwaway databases, see base)."""

import os

import sqlalchemy as sa

from nova_drs import config
from nova_drs.db import api
from nova_drs.db import migration
from tests.functional.db import base
from tests.unit.db import test_api
from tests.unit.db import test_control
from tests.unit.db import test_host_state_cache
from tests.unit.db import test_host_states
from tests.unit.db import test_manage
from tests.unit.db import test_migration
from tests.unit.db import test_plan_requests

BACKEND = 'mysql'


class TestApiMySQL(base.MigratedDatabaseTestCase, test_api.ApiTests):
    BACKEND = BACKEND


class TestHostStatesMySQL(base.MigratedDatabaseTestCase,
                          test_host_states.HostStateTests):
    BACKEND = BACKEND


class TestHostStateCacheMySQL(base.MigratedDatabaseTestCase,
                              test_host_state_cache.HostStateCacheTests):
    BACKEND = BACKEND


class TestMigrationMySQL(base.EmptyDatabaseTestCase,
                         test_migration.MigrationTests):
    BACKEND = BACKEND

    def test_tables_are_innodb_utf8mb4(self):
        migration.upgrade(None, connection=self.url)
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self.addCleanup(engine.dispose)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                'SELECT table_name, engine, table_collation '
                'FROM information_schema.tables '
                'WHERE table_schema = DATABASE()')).all()
        self.assertEqual(len(test_migration.TABLES) + 1, len(rows))
        for name, engine_name, collation in rows:
            self.assertEqual('InnoDB', engine_name, name)
            self.assertTrue(collation.startswith('utf8mb4'), (name,
                                                              collation))


class TestSqlModeMySQL(base.EmptyDatabaseTestCase):
    """``[drs_database] mysql_sql_mode`` reaches the sessions."""

    BACKEND = BACKEND

    def sql_modes(self, extra=''):
        path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[drs_database]\nconnection = %s\n%s'
                    % (self.url, extra))
        db = api.Database(config.load([path]))
        self.addCleanup(db.dispose)
        with db.engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT @@SESSION.sql_mode, @@GLOBAL.sql_mode')).one()

    def test_traditional_by_default(self):
        session, _server = self.sql_modes()
        self.assertIn('STRICT_TRANS_TABLES', session)
        self.assertIn('NO_ZERO_DATE', session)

    def test_empty_keeps_the_server_mode(self):
        session, server = self.sql_modes('mysql_sql_mode =\n')
        self.assertEqual(server, session)


class TestModelsSyncMySQL(base.EmptyDatabaseTestCase,
                          test_migration.ModelsSyncTests):
    BACKEND = BACKEND


class TestManageMySQL(base.EmptyDatabaseTestCase, test_manage.ManageTests):
    BACKEND = BACKEND

    @property
    def unreachable_url(self):
        return ('mysql+pymysql://nova_drs:secret@127.0.0.1:%d/nova_drs'
                % test_manage.CLOSED_PORT)

    def test_database_missing(self):
        url = sa.engine.make_url(self.url).set(database='drs_ft_missing')
        conf = test_manage.write_conf(
            self.tmp, url.render_as_string(hide_password=False))
        rc, out, err = test_manage.run_manage('--config-file', conf, 'db',
                                              'sync')
        self.assertEqual(2, rc, err)
        self.assertIn('does not exist; create it first', err)
        self.assertNotIn('Traceback', err)


class TestPlanRequestsMySQL(base.MigratedDatabaseTestCase,
                            test_plan_requests.PlanRequestTests):
    BACKEND = BACKEND


class TestPagingMySQL(base.MigratedDatabaseTestCase,
                      test_plan_requests.PagingTests):
    BACKEND = BACKEND


class TestControlMySQL(base.MigratedDatabaseTestCase,
                       test_control.ControlTests):
    BACKEND = BACKEND
