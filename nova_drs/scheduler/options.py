# SPDX-License-Identifier: Apache-2.0
"""The option groups the filter and weigher read, on Nova's ``CONF``.

nova-scheduler parses nova.conf before it loads its filters and weighers
(by import path), and Nova's own filters read the process-wide
``nova.conf.CONF``; ours do the same. They register ``[drs_scheduler]`` and
``[drs_database]`` on it when they are first instantiated rather than at
import time, and only once, whichever of the two classes comes first:
options registered after parsing still get their values from the files.
"""

import threading

from nova_drs.conf import database as database_conf
from nova_drs.conf import scheduler as scheduler_conf

_lock = threading.Lock()
#: the ConfigOpts objects registered already (compared by identity:
#: ConfigOpts is a mapping, hence unhashable)
_registered = []


def register(conf):
    """Register ``[drs_scheduler]`` and ``[drs_database]`` on ``conf`` once.

    :returns: ``conf``
    """
    with _lock:
        if not any(known is conf for known in _registered):
            # NOTE: oslo.config accepts the same option objects twice, but
            # a second OptGroup object of the same name would be ignored,
            # and doing it once keeps that reasoning out of the way.
            database_conf.register_opts(conf)
            scheduler_conf.register_opts(conf)
            _registered.append(conf)
    return conf


def nova_conf():
    """Nova's ``CONF``, with the nova-drs groups the plugins read."""
    # NOTE: imported here: nova.conf loads every Nova option module, which
    # nova-scheduler has done already but an import of our modules must
    # not do (see nova_drs.scheduler).
    import nova.conf

    return register(nova.conf.CONF)
