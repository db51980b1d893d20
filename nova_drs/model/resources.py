# SPDX-License-Identifier: Apache-2.0
"""The resources nova-drs measures and balances, and their thresholds.

Every per-resource array, list and payload section is in the order of
:data:`RESOURCES`. This module imports nothing else, so that the agent
(which has no use for the numpy model of :mod:`nova_drs.model.cluster`)
can use it.
"""

RESOURCES = ('cpu', 'memory', 'disk', 'network')
CPU, MEMORY, DISK, NETWORK = range(len(RESOURCES))


def thresholds_from_conf(conf):
    """Per-resource hotspot thresholds from the ``[drs]`` group (a list)."""
    return [conf.drs.cpu_threshold, conf.drs.memory_threshold,
            conf.drs.disk_threshold, conf.drs.network_threshold]
