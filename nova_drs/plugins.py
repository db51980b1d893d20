# SPDX-License-Identifier: Apache-2.0
"""Load named plugins (strategies, balloon policies) through stevedore."""

import stevedore


class PluginNotFound(LookupError):
    """No plugin of that name is installed in the namespace."""


def names(namespace):
    """Names of the plugins installed in ``namespace``."""
    return sorted(stevedore.ExtensionManager(namespace).names())


def load(namespace, name, conf, kind, error=PluginNotFound, **kwargs):
    """Instantiate plugin ``name`` of ``namespace`` with ``conf``.

    ``kwargs`` are passed on to the plugin's constructor.

    The plugin's ``name`` attribute is set to its entry point name, which
    is its identity. An unknown name raises ``error`` listing the
    installed ones, in the words of ``kind`` ("strategy"...).
    """
    try:
        manager = stevedore.DriverManager(namespace, name,
                                          invoke_on_load=True,
                                          invoke_args=(conf,),
                                          invoke_kwds=kwargs)
    except stevedore.exception.NoMatches:
        raise error('unknown %s %r; installed: %s'
                    % (kind, name, ', '.join(names(namespace)) or 'none'))
    plugin = manager.driver
    plugin.name = name
    return plugin
