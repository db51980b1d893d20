# SPDX-License-Identifier: Apache-2.0
"""What the command-line tools share: the user error, how a command ends,
and the configuration arguments.

The ``nova-drs`` subcommands live beside the code they drive
(``bench/cli.py``, ``simulator/cli.py``, ``simulator/capacity_cli.py``,
``cmd/snapshot.py``); they import this module, never
:mod:`nova_drs.cmd.drs`, which imports them. ``nova-drs`` and
``nova-drs-manage`` end through :func:`run`.
"""

import importlib
import os
import sys
import traceback

from nova_drs import config

EXIT_OK = 0
#: the command ran and failed (a database migration, a missed target)
EXIT_FAILED = 1
#: bad input or configuration: one line on standard error
EXIT_USAGE = 2
#: ^C, as a shell reports SIGINT
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A user error, printed as one line; ``exit_code`` ends the command."""

    def __init__(self, message, exit_code=EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


def check_extra(command, modules):
    """Refuse, in one line, a command whose extra is not installed.

    :param command: the command as a user types it (``nova-drs simulate``)
    :param modules: the modules of the ``sim`` extra it needs
    :raises CommandError: naming the missing modules and the extra
    """
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CommandError(
            '"%s" needs %s, part of the "sim" extra: pip install '
            '\'nova-drs[sim]\'' % (command, ' and '.join(missing)))


def run(prog, parser, argv=None, dispatch=None):
    """Parse ``argv`` and run the command: a console script's ``main``.

    A :class:`CommandError` ends it with one line, ``PROG: error: ...``,
    and its exit code (with ``--debug``, after the traceback of what
    caused it); ^C with ``PROG: interrupted`` and 130; a reader that went
    away (``| head``) quietly with 0.

    :param parser: the argparse parser; it may raise CommandError too.
    :param argv: the arguments, sys.argv[1:] by default.
    :param dispatch: called with the parsed arguments for the exit code;
        by default their ``func``, called with them.
    :returns: the exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = None
    try:
        args = parser.parse_args(argv)
        if dispatch is not None:
            return dispatch(args)
        return args.func(args)
    except CommandError as e:
        if getattr(args, 'debug', False):
            traceback.print_exception(e, file=sys.stderr)
        sys.stderr.write('%s: error: %s\n' % (prog, e))
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write('%s: interrupted\n' % prog)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # not an error of ours; point stdout at devnull so that the
        # interpreter's last flush is quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def add_config_args(parser):
    """``--config-file`` and ``--config-dir``, as Nova's commands have."""
    parser.add_argument(
        '--config-file', action='append', default=[], metavar='PATH',
        help='Configuration file (nova.conf or nova-drs.conf); may be '
             'given several times, later files override earlier ones '
             '(default: nova-drs.conf found where oslo.config looks, '
             'e.g. /etc/nova-drs/).')
    parser.add_argument(
        '--config-dir', action='append', default=[], metavar='DIR',
        help='Directory of *.conf files, read in alphabetical order.')


def load_conf(args):
    """The checked configuration the arguments name.

    :raises CommandError: unreadable or invalid configuration
    """
    try:
        return config.load(args.config_file, args.config_dir)
    except config.ConfigError as e:
        raise CommandError(str(e))


def load_snapshot(path):
    """The :class:`~nova_drs.model.cluster.ClusterModel` of a snapshot.

    ``nova-drs plan --snapshot`` and ``nova-drs simulate --snapshot``
    read snapshots through here: one reader, one set of checks
    (:mod:`nova_drs.model.snapshot`).

    :raises CommandError: unreadable or invalid snapshot, the message
        naming the file and the field
    """
    from nova_drs.model import snapshot

    try:
        return snapshot.load(path)
    except snapshot.SnapshotError as e:
        raise CommandError('%s: %s' % (path, e)
                           if not str(e).startswith(path) else str(e))
