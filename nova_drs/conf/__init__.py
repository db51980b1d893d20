# SPDX-License-Identifier: Apache-2.0
"""nova-drs configuration.

Every group is named so that it can live in nova.conf next to Nova's own
settings (``[drs]``, ``[drs_balancer]``...), or in a separate
``/etc/nova-drs/nova-drs.conf``; every command accepts several
``--config-file`` arguments, as Nova's services do.

Each module of this package defines one group with ``register_opts(conf)``
and ``list_opts()``; they are found here and in :mod:`nova_drs.conf.opts`,
so adding a group only means adding its module.
"""

import importlib
import pkgutil


def option_modules(names=None):
    """The modules of this package that define option groups.

    :param names: module names to limit the answer to (all by default).
    """
    for info in pkgutil.iter_modules(__path__):
        if info.name == 'opts' or (names is not None
                                   and info.name not in names):
            continue
        module = importlib.import_module(__name__ + '.' + info.name)
        if hasattr(module, 'register_opts'):
            yield module


def register_opts(conf, names=None):
    """Register nova-drs option groups on ``conf``.

    :param names: the modules of this package whose groups to register,
        all by default. A service registers only what it reads, so that
        the agent does not import the balancer's client libraries.
    """
    for module in option_modules(names):
        module.register_opts(conf)
