# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-manage``: administration of the balancer's database.

::

    nova-drs-manage --config-file /etc/nova-drs/nova-drs.conf db sync
    nova-drs-manage --config-file /etc/nova-drs/nova-drs.conf db version

``db sync [--revision R]`` creates the schema of ``[drs_database]
connection``, or upgrades it to the newest revision (or to ``R``); it
does nothing on a database already there. ``db version`` prints the
database's revision. Run ``db sync`` after every upgrade of nova-drs,
before restarting the balancer (doc/source/database.rst).

``signing host-key HOST`` prints the key with which the agent of compute
host ``HOST`` signs its metrics (``[drs_agent] signing_key_file``),
derived from ``[drs_signing] secret`` (doc/source/security.rst); with
``--output PATH`` it writes it to a new file readable by its owner only.

A bad configuration, a bad URL, a database that cannot be reached or an
unknown revision ends with one line on standard error and exit code 2; a
database error during the migration with exit code 1. No traceback,
unless ``--debug`` is given.
"""

import argparse
import logging as std_logging
import os
import re
import sys

from alembic.util import exc as alembic_exc
from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa

from nova_drs.cmd import common
from nova_drs import config
from nova_drs.db import api
from nova_drs.db import migration

LOG = logging.getLogger(__name__)

PROG = 'nova-drs-manage'
#: modules of nova_drs.conf to register: the database, [drs] that
#: config.load checks, and [drs_signing] for the host keys
CONF_GROUPS = ('database', 'drs', 'signing')

EXIT_OK = common.EXIT_OK
EXIT_FAILED = common.EXIT_FAILED

CommandError = common.CommandError


def _add_config_args(parser, dest_prefix=''):
    parser.add_argument(
        '--config-file', action='append', metavar='PATH',
        dest=dest_prefix + 'config_file',
        default=[] if not dest_prefix else argparse.SUPPRESS,
        help='Configuration file (nova-drs.conf, or nova.conf with a '
             '[drs_database] section); may be given several times, later '
             'files override earlier ones.')
    parser.add_argument(
        '--config-dir', action='append', metavar='DIR',
        dest=dest_prefix + 'config_dir',
        default=[] if not dest_prefix else argparse.SUPPRESS,
        help='Directory of *.conf files, read in alphabetical order.')
    parser.add_argument(
        '--debug', action='store_true',
        dest=dest_prefix + 'debug',
        default=False if not dest_prefix else argparse.SUPPRESS,
        help='Log debugging messages, and show a traceback on errors.')


def _load_conf(args):
    # NOTE: the options may come before or after the subcommand; argparse
    # keeps them apart (a subcommand's parser would replace the lists).
    files = args.config_file + getattr(args, 'sub_config_file', [])
    dirs = args.config_dir + getattr(args, 'sub_config_dir', [])
    args.debug = args.debug or getattr(args, 'sub_debug', False)
    try:
        conf = config.load(files, dirs, groups=CONF_GROUPS,
                           args=['--debug'] if args.debug else None)
    except config.ConfigError as e:
        raise CommandError(str(e))
    # NOTE: logs (oslo.db's connection retries...) go to standard error,
    # standard output is the command's answer
    conf.set_default('use_stderr', True)
    logging.setup(conf, 'nova-drs')
    if not args.debug:
        # alembic says "Context impl SQLiteImpl." and the like at INFO;
        # the command prints what it did
        std_logging.getLogger('alembic').setLevel(std_logging.WARNING)
    return conf


def _safe_url(url):
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return re.sub(r'(://[^:/@]*:)[^@]*@', r'\1***@', url)


def _reason(error):
    """The database driver's message, on one line."""
    inner = getattr(error, 'inner_exception', None) or error
    orig = getattr(inner, 'orig', None) or inner
    args = getattr(orig, 'args', ())
    if len(args) == 2 and isinstance(args[0], int):
        # PyMySQL: (code, message)
        text = str(args[1])
    else:
        text = str(orig)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith('(Background on')]
    return ' '.join(lines) or type(orig).__name__


def _run(conf, what, func, *args):
    """Call ``func(conf, *args)``; database trouble becomes CommandError."""
    url = conf.drs_database.connection
    where = _safe_url(url) if url else None
    if url:
        try:
            sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as e:
            # e.g. "Could not parse SQLAlchemy URL", a port that is not a
            # number
            raise CommandError('invalid [drs_database] connection %r: %s'
                               % (where, e))
    try:
        return func(conf, *args)
    except api.DatabaseNotConfigured as e:
        raise CommandError(str(e))
    except sa.exc.NoSuchModuleError:
        raise CommandError(
            'unknown database type in [drs_database] connection %s: use '
            'sqlite://, mysql+pymysql:// or postgresql+psycopg2://' % where)
    except sa.exc.ArgumentError as e:
        # e.g. an unknown URL query parameter
        raise CommandError('invalid [drs_database] connection %r: %s'
                           % (where, e))
    except ImportError as e:
        raise CommandError(
            'the database driver for %s is not installed (%s): install '
            'PyMySQL for mysql+pymysql://, psycopg2-binary for '
            'postgresql+psycopg2://' % (where, e))
    except db_exc.DBNonExistentDatabase as e:
        if url.startswith('sqlite'):
            raise CommandError(_sqlite_error(url, e))
        raise CommandError('the database of %s does not exist; create it '
                           'first (doc/source/database.rst): %s'
                           % (where, _reason(e)))
    except db_exc.DBConnectionError as e:
        raise CommandError('cannot connect to the database %s: %s'
                           % (where, _reason(e)))
    except alembic_exc.CommandError as e:
        raise CommandError('%s: %s' % (what, e))
    except (db_exc.DBError, sa.exc.SQLAlchemyError) as e:
        if url.startswith('sqlite') and _is_connection_error(e):
            raise CommandError(_sqlite_error(url, e))
        if _is_connection_error(e):
            raise CommandError('cannot connect to the database %s: %s'
                               % (where, _reason(e)))
        LOG.debug('%s failed', what, exc_info=True)
        raise CommandError('%s failed on %s: %s' % (what, where, _reason(e)),
                           exit_code=EXIT_FAILED)


def _sqlite_error(url, error):
    path = sa.engine.make_url(url).database or ''
    directory = os.path.dirname(path) or '.'
    return ('cannot open the SQLite database %s: %s (the directory %s must '
            'exist and be writable by this user)'
            % (path, _reason(error), directory))


def _is_connection_error(error):
    """Errors at connect time that oslo.db does not classify.

    SQLite's "unable to open database file" (a missing directory, no
    permission), and access denied by MySQL or PostgreSQL.
    """
    text = _reason(error).lower()
    return any(s in text for s in (
        'unable to open database file', 'access denied',
        'authentication failed', 'password', 'no pg_hba.conf entry',
        'connection refused', 'could not connect', "can't connect"))


def _describe(current, head):
    if current is None:
        return 'none (empty database; run %s db sync)' % PROG
    if current == head:
        return '%s (newest)' % current
    return '%s (newest is %s; run %s db sync)' % (current, head, PROG)


def cmd_db_sync(args):
    conf = _load_conf(args)
    before = _run(conf, 'db version', migration.version)
    _run(conf, 'db sync', migration.upgrade, args.revision)
    after = _run(conf, 'db version', migration.version)
    where = _safe_url(conf.drs_database.connection)
    if before == after:
        print('%s: database already at revision %s' % (where, after))
    else:
        print('%s: database upgraded from revision %s to %s'
              % (where, before or 'none', after))
    return EXIT_OK


def cmd_db_version(args):
    conf = _load_conf(args)
    current = _run(conf, 'db version', migration.version)
    print(_describe(current, migration.head()))
    return EXIT_OK


def cmd_signing_host_key(args):
    from nova_drs.notifications import schema
    from nova_drs.notifications import signing
    conf = _load_conf(args)
    if not conf.drs_signing.secret:
        raise CommandError('[drs_signing] secret is not set: there is no '
                           'key to derive')
    if not re.match(schema.HOSTNAME_PATTERN, args.host) \
            or '\n' in args.host:
        raise CommandError('%r is not a host name Nova accepts (1-255 '
                           'letters, digits, "-", "." and "_")' % args.host)
    key = signing.host_key(conf.drs_signing.secret, args.host).hex()
    if not args.output:
        print(key)
        return EXIT_OK
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
    except OSError as e:
        raise CommandError('cannot create %s: %s' % (args.output,
                                                     e.strerror))
    with os.fdopen(fd, 'w') as f:
        f.write(key + '\n')
    print('%s: signing key of host %s written' % (args.output, args.host))
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise CommandError(message)


def build_parser():
    parser = _Parser(prog=PROG,
                     description='Administration of the nova-drs '
                                 'balancer\'s database and of the metrics '
                                 'signing keys.')
    _add_config_args(parser)
    categories = parser.add_subparsers(dest='category', metavar='CATEGORY',
                                       parser_class=_Parser)
    categories.required = True
    db = categories.add_parser(
        'db', help='Database schema.',
        description='Create, upgrade and show the schema of '
                    '[drs_database] connection.')
    commands = db.add_subparsers(dest='command', metavar='COMMAND',
                                 parser_class=_Parser)
    commands.required = True

    sync = commands.add_parser(
        'sync', help='Create or upgrade the schema.',
        description='Create the schema, or upgrade it to the newest '
                    'revision (or to --revision). Safe to run again.')
    sync.add_argument('--revision', default='head', metavar='R',
                      help='Revision to upgrade to (default: head, the '
                           'newest). Downgrades are not supported.')
    _add_config_args(sync, 'sub_')
    sync.set_defaults(func=cmd_db_sync)

    version = commands.add_parser(
        'version', help='Print the schema revision.',
        description='Print the revision of the database\'s schema, and '
                    'whether it is the newest.')
    _add_config_args(version, 'sub_')
    version.set_defaults(func=cmd_db_version)

    signing = categories.add_parser(
        'signing', help='Keys of the metrics signatures.',
        description='Keys with which the agents sign their metrics '
                    '(doc/source/security.rst).')
    signing_commands = signing.add_subparsers(
        dest='command', metavar='COMMAND', parser_class=_Parser)
    signing_commands.required = True
    host_key = signing_commands.add_parser(
        'host-key', help='Print the signing key of a compute host.',
        description='Print the key the agent of HOST signs with, derived '
                    'from [drs_signing] secret: put it in the file of '
                    'that host\'s [drs_agent] signing_key_file, readable '
                    'by the agent only.')
    host_key.add_argument('host', metavar='HOST',
                          help='The host\'s name as the agent sends it '
                               '([drs_agent] host).')
    host_key.add_argument('--output', metavar='PATH',
                          help='Write the key to this new file (mode 600) '
                               'instead of printing it.')
    _add_config_args(host_key, 'sub_')
    host_key.set_defaults(func=cmd_signing_host_key)
    return parser


def main(argv=None):
    return common.run(PROG, build_parser(), argv)


if __name__ == '__main__':
    sys.exit(main())
