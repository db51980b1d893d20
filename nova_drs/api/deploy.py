# SPDX-License-Identifier: Apache-2.0
"""Building the application of a WSGI server process from its environment.

The configuration files are named by ``NOVA_DRS_API_CONFIG`` (several
separated by ``;``, later ones win, as Nova's ``OS_NOVA_CONFIG_FILES``),
by default found by oslo.config's lookup (``/etc/nova-drs/nova-drs.conf``
and ``/etc/nova-drs/nova-drs.conf.d``, see :mod:`nova_drs.config`).
"""

import os
import threading

from oslo_log import log as logging

from nova_drs.api import app as app_mod
from nova_drs import config

ENV = 'NOVA_DRS_API_CONFIG'

LOG = logging.getLogger(__name__)

_lock = threading.Lock()


def config_files(environ=None):
    """The configuration files named by the environment.

    None named: :func:`nova_drs.config.load`'s default lookup applies.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV) or ''
    return [path.strip() for path in value.split(';') if path.strip()]


def init_application(environ=None):
    """Load the configuration, set up logging, build the application.

    :raises config.ConfigError: unreadable or invalid configuration
    """
    conf = config.load(config_files(environ))
    logging.setup(conf, config.PROJECT)
    config.log_settings(conf, LOG)
    return app_mod.create_app(conf)


def load_or_exit():
    """:func:`init_application`, or exit with a one-line message."""
    with _lock:
        try:
            return init_application()
        except config.ConfigError as e:
            # NOTE: there is no request to answer yet: the message goes
            # to the server's log, without a traceback
            raise SystemExit('nova-drs-api: %s' % e) from None
