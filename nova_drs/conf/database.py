# SPDX-License-Identifier: Apache-2.0
"""The balancer's database: the ``[drs_database]`` group.

The options that oslo.db's enginefacade takes (connection URL, pool,
retries, MySQL SQL mode...), as in oslo.db's ``[database]`` group, with
the same names and defaults, under a group of nova-drs' own.

NOTE: not ``[database]``: every nova-drs group can live in nova.conf, and
services are started with ``--config-file /etc/nova/nova.conf``. There
``[database] connection`` is Nova's main database, which has an
``alembic_version`` table of its own: reading it would put the balancer's
tables in Nova's database, and ``nova-drs-manage db sync`` would meet
Nova's schema revision. See doc/source/database.rst.

NOTE: defined here rather than copied from ``oslo_db.options``: only the
options that apply to the balancer (no replica "slave" connection, no
asyncio), with bounds, and with help text that does not change with the
installed oslo.db (the sample configuration is checked against the code).
"""

from oslo_config import cfg

#: SQLite, embedded: right for one balancer replica. Replicas that share
#: their state need MySQL/MariaDB or PostgreSQL (doc/source/database.rst).
DEFAULT_CONNECTION = 'sqlite:////var/lib/nova-drs/nova-drs.sqlite'

database_group = cfg.OptGroup(
    name='drs_database',
    title='nova-drs database options',
    help='The database of the nova-drs balancer: plans, their live '
         'migrations and their states, the audit trail. Create or upgrade '
         'its schema with ``nova-drs-manage db sync``. These are the '
         'options of oslo.db\'s ``[database]`` group that apply, under a '
         'name of nova-drs\' own: ``[database]`` in nova.conf is Nova\'s '
         'database.')

DATABASE_OPTS = [
    cfg.StrOpt(
        'connection', default=DEFAULT_CONNECTION, secret=True,
        help='SQLAlchemy URL of the database. The default, SQLite in a '
             'local file, suits one balancer replica; replicas that share '
             'their state (and take over each other\'s migrations) need '
             'MySQL/MariaDB or PostgreSQL. The directory of a SQLite file '
             'must exist and be writable by the service\'s user.\n\n'
             'Examples:\n\n'
             '* ``sqlite:////var/lib/nova-drs/nova-drs.sqlite``\n'
             '* ``mysql+pymysql://nova_drs:PASSWORD@db/nova_drs'
             '?charset=utf8mb4``\n'
             '* ``postgresql+psycopg2://nova_drs:PASSWORD@db/nova_drs``'),
    cfg.StrOpt(
        'connection_parameters', default='', secret=True,
        help='Parameters added to the query string of ``connection`` at '
             'connect time, as ``param1=value1&param2=value2``; keeps '
             'driver settings apart from the URL and its password.'),
    cfg.StrOpt(
        'mysql_sql_mode', default='TRADITIONAL',
        help='SQL mode of MySQL/MariaDB sessions, overriding the server\'s. '
             'Set it to an empty value to keep the server\'s mode.'),
    cfg.BoolOpt(
        'sqlite_synchronous', default=True,
        help='Let SQLite wait for each write to reach the disk '
             '(``PRAGMA synchronous``). Turning this off makes writes '
             'faster and a power loss able to lose the last transactions.'),
    cfg.IntOpt(
        'max_pool_size', default=5, min=0, max=1000,
        help='Connections kept open in the pool of each balancer process '
             '(0: no limit).'),
    cfg.IntOpt(
        'max_overflow', default=50, min=-1, max=1000,
        help='Connections opened beyond ``max_pool_size`` when every pooled '
             'one is busy, closed when returned (-1: no limit).'),
    cfg.IntOpt(
        'pool_timeout', default=30, min=1, max=3600,
        help='Seconds to wait for a free connection of the pool before the '
             'call fails.'),
    cfg.IntOpt(
        'connection_recycle_time', default=3600, min=1, max=86400,
        help='Seconds after which a pooled connection is replaced by a new '
             'one the next time it is taken from the pool. Keep it below '
             'the server\'s idle timeout (MySQL ``wait_timeout``) and any '
             'proxy\'s.'),
    cfg.IntOpt(
        'max_retries', default=10, min=-1, max=10000,
        help='Attempts to connect to the database when a process starts '
             'or the pool creates its engine, before giving up (-1: '
             'forever).\n\n'
             'Related options:\n\n'
             '* ``[drs_database] retry_interval``'),
    cfg.IntOpt(
        'retry_interval', default=10, min=0, max=3600,
        help='Seconds between two attempts to connect.'),
    cfg.IntOpt(
        'connection_debug', default=0, min=0, max=100,
        help='Logging of SQL statements: 0 none, 50 the statements (INFO), '
             '100 the statements and their results (DEBUG).'),
    cfg.BoolOpt(
        'connection_trace', default=False,
        help='Add to every SQL statement a comment with the Python code '
             'that issued it (for the database\'s slow query log).'),
]

#: the options above, by name; each is an argument of enginefacade's
#: configure()
OPT_NAMES = tuple(opt.name for opt in DATABASE_OPTS)


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts (see nova_drs.conf.drs).
    group = cfg.OptGroup(database_group.name, title=database_group.title,
                         help=database_group.help)
    conf.register_group(group)
    conf.register_opts(DATABASE_OPTS, group=group)


def list_opts():
    return {database_group: DATABASE_OPTS}
