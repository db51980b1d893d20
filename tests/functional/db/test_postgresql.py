# SPDX-License-Identifier: Apache-2.0
"""The database layer on PostgreSQL (throwaway databases, see base)."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_drs.db import migration
from tests.functional.db import base
from tests.unit.db import test_api
from tests.unit.db import test_control
from tests.unit.db import test_host_state_cache
from tests.unit.db import test_host_states
from tests.unit.db import test_manage
from tests.unit.db import test_migration
from tests.unit.db import test_plan_requests

BACKEND = 'postgresql'


class TestApiPostgreSQL(base.MigratedDatabaseTestCase, test_api.ApiTests):
    BACKEND = BACKEND


class TestHostStatesPostgreSQL(base.MigratedDatabaseTestCase,
                               test_host_states.HostStateTests):
    BACKEND = BACKEND


class TestHostStateCachePostgreSQL(base.MigratedDatabaseTestCase,
                                   test_host_state_cache.HostStateCacheTests):
    BACKEND = BACKEND


class TestMigrationPostgreSQL(base.EmptyDatabaseTestCase,
                              test_migration.MigrationTests):
    BACKEND = BACKEND

    def test_upgrade_is_one_transaction(self):
        """A failed upgrade leaves nothing behind (transactional DDL)."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self.addCleanup(engine.dispose)
        with engine.begin() as conn:
            conn.execute(sa.text('CREATE TABLE failed_pairs (x INTEGER)'))
        self.assertRaises(db_exc.DBError, migration.upgrade, None,
                          connection=self.url)
        self.assertEqual(['failed_pairs'], sa.inspect(engine)
                         .get_table_names())
        self.assertIsNone(migration.version(None, connection=self.url))


class TestModelsSyncPostgreSQL(base.EmptyDatabaseTestCase,
                               test_migration.ModelsSyncTests):
    BACKEND = BACKEND


class TestManagePostgreSQL(base.EmptyDatabaseTestCase,
                           test_manage.ManageTests):
    BACKEND = BACKEND

    @property
    def unreachable_url(self):
        return ('postgresql+psycopg2://nova_drs:secret@127.0.0.1:%d/'
                'nova_drs' % test_manage.CLOSED_PORT)

    def test_database_missing(self):
        url = sa.engine.make_url(self.url).set(database='drs_ft_missing')
        conf = test_manage.write_conf(
            self.tmp, url.render_as_string(hide_password=False))
        rc, out, err = test_manage.run_manage('--config-file', conf, 'db',
                                              'sync')
        self.assertEqual(2, rc, err)
        self.assertIn('does not exist; create it first', err)
        self.assertNotIn('Traceback', err)


class TestPlanRequestsPostgreSQL(base.MigratedDatabaseTestCase,
                                 test_plan_requests.PlanRequestTests):
    BACKEND = BACKEND


class TestPagingPostgreSQL(base.MigratedDatabaseTestCase,
                           test_plan_requests.PagingTests):
    BACKEND = BACKEND


class TestControlPostgreSQL(base.MigratedDatabaseTestCase,
                            test_control.ControlTests):
    BACKEND = BACKEND
