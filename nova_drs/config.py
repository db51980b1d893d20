# SPDX-License-Identifier: Apache-2.0
"""Load and check configuration for the nova-drs commands.

Commands accept several ``--config-file`` arguments and ``--config-dir``,
as Nova's services do, so nova-drs can be tuned inside nova.conf. Without
them, files are found where operators expect them, by oslo.config's own
lookup: ``nova-drs.conf`` in ``~/.nova-drs/``, ``~/``, ``/etc/nova-drs/``
and ``/etc/``, and the ``*.conf`` files of ``nova-drs.conf.d`` beside it
(a ``--config-file`` replaces the default files; the default directory is
still read, as for Nova). Values are checked when the files are read, not
when an option is first used, so a bad setting is reported at start with
the file, group and option named.
"""

import re

from oslo_config import cfg
from oslo_log import log as logging

import nova_drs.conf

PROJECT = 'nova-drs'


class ConfigError(Exception):
    """The configuration cannot be used; the message says why."""


def load(config_files=(), config_dirs=(), conf=None, args=None,
         groups=None, default_files=True):
    """Parse configuration files and return the checked configuration.

    Options are registered on a new ConfigOpts unless ``conf`` is given.

    :param groups: modules of :mod:`nova_drs.conf` to register (all by
        default).
    :param default_files: also look for ``nova-drs.conf`` and
        ``nova-drs.conf.d`` in oslo.config's default places; False reads
        only what is named (tests, the benchmarks' own files).
    :raises ConfigError: unreadable file, syntax error or invalid value.
    """
    if conf is None:
        conf = cfg.ConfigOpts()
        nova_drs.conf.register_opts(conf, groups)
        logging.register_options(conf)
    argv = list(args or [])
    for path in config_files:
        argv += ['--config-file', path]
    for path in config_dirs:
        argv += ['--config-dir', path]
    try:
        # NOTE: None is oslo.config's "search the default places"
        defaults = None if default_files else []
        conf(argv, project=PROJECT, default_config_files=defaults,
             default_config_dirs=defaults)
    except cfg.ConfigFilesNotFoundError as e:
        raise ConfigError('cannot read configuration file(s): %s'
                          % ', '.join(e.config_files))
    except cfg.ConfigFileParseError as e:
        raise ConfigError('cannot parse configuration file %s: %s'
                          % (e.config_file, e.msg))
    except cfg.Error as e:
        raise ConfigError(str(e))
    check(conf)
    return conf


def log_settings(conf, logger):
    """Log every option's value at DEBUG, as OpenStack services do at start.

    oslo.config prints ``****`` for every ``secret=True`` option
    (``tests/unit/test_secret_options.py`` keeps the options that may hold
    a password or key secret).
    """
    conf.log_opt_values(logger, logging.DEBUG)


def check(conf):
    """Read every registered option so invalid values fail now."""
    for key in list(conf):
        value_or_group = _read(conf, key, None)
        if isinstance(value_or_group, cfg.ConfigOpts.GroupAttr):
            for name in list(value_or_group):
                _read(value_or_group, name, key)
    drs = conf.drs
    count = 2 if drs.persistence_count is None else drs.persistence_count
    length = 3 if drs.persistence_window is None else drs.persistence_window
    if count > length:
        raise ConfigError(
            '[drs] persistence_count (%d) must not exceed '
            'persistence_window (%d)' % (count, length))
    if drs.persistence_s > drs.persistence_window_s:
        raise ConfigError(
            '[drs] persistence_s (%g) must not exceed '
            'persistence_window_s (%g)' % (drs.persistence_s,
                                           drs.persistence_window_s))


def _read(namespace, name, group):
    try:
        return getattr(namespace, name)
    except (cfg.ConfigFileValueError, ValueError) as e:
        where = '[%s] %s' % (group or 'DEFAULT', name)
        # oslo.config says "Value for option X from LocationInfo(...) is
        # not valid: <why>"; keep the why, name the file ourselves
        why = str(e).rpartition('is not valid: ')[2] or str(e)
        found = re.search(r"detail='([^']*)'", str(e))
        location = found.group(1) if found else None
        raise ConfigError('invalid value for %s%s: %s' % (
            where, ' in %s' % location if location else '', why))
