# SPDX-License-Identifier: Apache-2.0
"""List every nova-drs option for oslo-config-generator."""

import nova_drs.conf


def list_opts():
    """Return ``[(group, [opts])]`` for every nova-drs option group."""
    grouped = {}
    for module in nova_drs.conf.option_modules():
        for group, opts in module.list_opts().items():
            grouped.setdefault(group, []).extend(opts)
    return list(grouped.items())
