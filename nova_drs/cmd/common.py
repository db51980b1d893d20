# SPDX-License-Identifier: Apache-2.0
"""What the ``nova-drs`` subcommands share: the user error and the
configuration arguments.

The subcommands live beside the code they drive (``bench/cli.py``,
``simulator/cli.py``, ``simulator/capacity_cli.py``, ``cmd/snapshot.py``);
they import this module, never :mod:`nova_drs.cmd.drs`, which imports
them.
"""

from nova_drs import config


class CommandError(Exception):
    """A user error: ``nova-drs`` prints it as one line, exit code 2."""


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
