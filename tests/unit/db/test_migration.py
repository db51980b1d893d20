# SPDX-License-Identifier: Apache-2.0
"""nova_drs.db.migration, and that the alembic scripts match the models.

:class:`MigrationTests` and :class:`ModelsSyncTests` run on any backend:
here on SQLite, in tests/functional/db on MariaDB and PostgreSQL.
"""

import os

from alembic import autogenerate
from alembic import migration as alembic_migration
from alembic.util import exc as alembic_exc
import fixtures
from oslo_db.sqlalchemy import test_migrations
from oslotest import base
import sqlalchemy as sa

from nova_drs import config
from nova_drs.db import migration
from nova_drs.db import models

TABLES = {'plans', 'actions', 'audit_events', 'failed_pairs',
          'host_states', 'plan_requests', 'balancer_settings',
          'host_settings', 'replica_states'}
INDEXES = {
    'plans': {'ix_plans_state_created_at', 'ix_plans_created_at'},
    'actions': {'ix_actions_state_source', 'ix_actions_state_target',
                'ix_actions_instance_uuid'},
    'audit_events': {'ix_audit_events_object_uuid',
                     'ix_audit_events_created_at'},
    'failed_pairs': {'ix_failed_pairs_until'},
    'plan_requests': {'ix_plan_requests_state_created_at'},
    'host_states': {'ix_host_states_reported_by_updated_at'},
}


class MigrationTests(object):
    """``db sync`` and ``db version`` (a mixin).

    Needs ``self.url``: an empty database for this test.
    """

    def tables(self):
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            inspector = sa.inspect(engine)
            return {name: {ix['name'] for ix in inspector.get_indexes(name)}
                    for name in inspector.get_table_names()}
        finally:
            engine.dispose()

    def test_head(self):
        self.assertEqual('0008', migration.head())

    def test_version_of_an_empty_database(self):
        self.assertIsNone(migration.version(None, connection=self.url))

    def test_upgrade_to_head(self):
        migration.upgrade(None, connection=self.url)
        self.assertEqual(migration.head(),
                         migration.version(None, connection=self.url))
        tables = self.tables()
        self.assertEqual(TABLES | {'alembic_version'}, set(tables))
        for table, indexes in INDEXES.items():
            self.assertLessEqual(indexes, tables[table], table)

    def test_upgrade_again_changes_nothing(self):
        migration.upgrade(None, connection=self.url)
        before = self.tables()
        migration.upgrade(None, connection=self.url)
        self.assertEqual(before, self.tables())
        self.assertEqual('0008', migration.version(None,
                                                   connection=self.url))

    def test_upgrade_to_a_revision(self):
        migration.upgrade(None, revision='0001', connection=self.url)
        self.assertEqual('0001', migration.version(None,
                                                   connection=self.url))
        self.assertNotIn('host_states', self.tables())
        migration.upgrade(None, revision='0002', connection=self.url)
        self.assertEqual('0002', migration.version(None,
                                                   connection=self.url))
        self.assertIn('host_states', self.tables())
        self.assertNotIn('plan_requests', self.tables())
        migration.upgrade(None, revision='0003', connection=self.url)
        self.assertEqual('0003', migration.version(None,
                                                   connection=self.url))
        self.assertIn('plan_requests', self.tables())
        self.assertNotIn('replica_states', self.tables())
        migration.upgrade(None, connection=self.url)
        self.assertEqual('0008', migration.version(None,
                                                   connection=self.url))
        self.assertLessEqual({'balancer_settings', 'host_settings',
                              'replica_states'}, set(self.tables()))

    def test_unknown_revision(self):
        self.assertRaises(alembic_exc.CommandError, migration.upgrade,
                          None, revision='9999', connection=self.url)
        self.assertIsNone(migration.version(None, connection=self.url))


class ModelsSyncTests(test_migrations.ModelsMigrationsSync):
    """The schema the scripts create is the schema of the models (a mixin).

    oslo.db's test: runs the migrations, then compares the database with
    the models with alembic's autogenerate; any difference fails. Needs
    ``self.url``: an empty database for this test.
    """

    def get_engine(self):
        if getattr(self, '_sync_engine', None) is None:
            self._sync_engine = sa.create_engine(self.url,
                                                 poolclass=sa.pool.NullPool)
            self.addCleanup(self._sync_engine.dispose)
        return self._sync_engine

    def get_metadata(self):
        return models.Base.metadata

    def db_sync(self, engine):
        migration.upgrade_engine(engine)

    def diff(self, metadata):
        """alembic's differences between the database and ``metadata``."""
        with self.get_engine().connect() as connection:
            context = alembic_migration.MigrationContext.configure(
                connection, opts={'compare_type': self.compare_type,
                                  'compare_server_default':
                                      self.compare_server_default})
            return autogenerate.compare_metadata(context, metadata)

    def test_comparison_sees_differences(self):
        """The comparison is not blind: a changed model is a difference."""
        self.db_sync(self.get_engine())
        self.assertEqual([], self.diff(models.Base.metadata))
        changed = sa.MetaData()
        for table in models.Base.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables['actions'].append_column(
            sa.Column('extra', sa.Integer, nullable=True))
        changed.tables['plans'].c.strategy.type = sa.String(65)
        diff = self.diff(changed)
        self.assertIn('add_column', [d[0] for d in diff])
        modified = [d for d in diff if isinstance(d, list)]
        self.assertEqual(['modify_type'], [d[0][0] for d in modified])


class SqliteFile(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(tmp, 'nova-drs.sqlite')
        self.url = 'sqlite:///' + self.path


class TestMigrationSqlite(SqliteFile, MigrationTests):

    def test_upgrade_from_configuration(self):
        conf_path = os.path.join(os.path.dirname(self.path), 'drs.conf')
        with open(conf_path, 'w', encoding='utf-8') as f:
            f.write('[drs_database]\nconnection = %s\n' % self.url)
        conf = config.load([conf_path])
        self.assertIsNone(migration.version(conf))
        migration.upgrade(conf)
        self.assertEqual('0008', migration.version(conf))
        self.assertTrue(os.path.exists(self.path))


class TestModelsSyncSqlite(SqliteFile, ModelsSyncTests):
    pass
