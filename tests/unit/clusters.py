# SPDX-License-Identifier: Apache-2.0
"""Small hand-built clusters for unit tests.

Hosts default to 10 cores, 10,000 MiB, ratios 4.0 and 1.5, so loads are
easy to work out by hand: one fully busy vCPU is 0.1 of a host's CPU and
1,000 MiB in use is 0.1 of its memory.
"""

from nova_drs import config
from nova_drs.model import snapshot


def host(name, **kw):
    doc = {'name': name, 'vcpus': 10, 'memory_mb': 10000,
           'cpu_allocation_ratio': 4.0, 'ram_allocation_ratio': 1.5}
    doc.update(kw)
    return doc


def vm(name, host, vcpus=1, util=50.0, mem=500, memory_mb=2000, **kw):
    doc = {'name': name, 'host': host, 'vcpus': vcpus,
           'memory_mb': memory_mb, 'cpu_util': util, 'mem_used_mb': mem}
    doc.update(kw)
    return doc


def model(hosts, instances, groups=()):
    return snapshot.from_dict({'hosts': list(hosts),
                               'instances': list(instances),
                               'server_groups': list(groups)})


def conf(**overrides):
    """A checked configuration with ``group_option=value`` overrides."""
    c = config.load(conf=None)
    for key, value in overrides.items():
        group, _, name = key.partition('__')
        c.set_override(name, value, group)
    return c
