# SPDX-License-Identifier: Apache-2.0
"""Create and upgrade the balancer's schema (``nova-drs-manage db``).

The alembic scripts are in ``nova_drs/db/migrations/versions``; the
alembic configuration is built here, so nothing but Python files needs to
be installed. The current revision is in the ``alembic_version`` table.
"""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config_mod
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from nova_drs.db import api

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'migrations')


def alembic_config(connection=None, url=None):
    """An alembic configuration for the scripts of nova-drs.

    :param connection: a SQLAlchemy connection for env.py to use
    :param url: else, a database URL (alembic's ``sqlalchemy.url``), e.g.
        to write a new migration with ``alembic.command.revision``
        (doc/source/database.rst)
    """
    config = alembic_config_mod.Config()
    config.set_main_option('script_location', MIGRATIONS)
    if url is not None:
        # NOTE: ConfigParser interpolation: a literal % is written %%
        config.set_main_option('sqlalchemy.url', url.replace('%', '%%'))
    config.attributes['connection'] = connection
    return config


def head():
    """The newest revision of the scripts."""
    return alembic_script.ScriptDirectory.from_config(
        alembic_config()).get_current_head()


def upgrade_engine(engine, revision='head'):
    """Upgrade the database behind ``engine`` to ``revision``."""
    with engine.begin() as connection:
        alembic_command.upgrade(alembic_config(connection), revision)


def version_engine(engine):
    """The database's revision; None for a database never synced."""
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def _with_engine(conf, connection, func, *args):
    context_manager = api.create_context_manager(conf, connection)
    try:
        return func(context_manager.writer.get_engine(), *args)
    finally:
        context_manager.dispose_pool()


def upgrade(conf, revision='head', connection=None):
    """Create or upgrade the schema of ``[drs_database] connection``.

    :param revision: the revision to reach (default: the newest)
    :param connection: a database URL overriding the configuration
    """
    _with_engine(conf, connection, upgrade_engine, revision)


def version(conf, connection=None):
    """The schema revision of ``[drs_database] connection``.

    :returns: None for a database never synced
    """
    return _with_engine(conf, connection, version_engine)
