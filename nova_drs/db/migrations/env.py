# SPDX-License-Identifier: Apache-2.0
"""alembic environment of the nova-drs database.

:mod:`nova_drs.db.migration` runs it with a connection in
``config.attributes['connection']``. A developer writing a migration
may instead give a URL (``sqlalchemy.url``), see doc/source/database.rst.
"""

from alembic import context
import sqlalchemy as sa

from nova_drs.db import models

config = context.config
target_metadata = models.Base.metadata


def _run(connection):
    context.configure(
        connection=connection, target_metadata=target_metadata,
        # SQLite alters tables by copying them (later migrations)
        render_as_batch=connection.dialect.name == 'sqlite',
        compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline():
    context.configure(url=config.get_main_option('sqlalchemy.url'),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option('sqlalchemy.url'),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
