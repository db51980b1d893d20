# SPDX-License-Identifier: Apache-2.0
"""nova-compute with many fake nodes, as Ironic-style multi-node computes.

Usage (with the Nova lab's virtualenv, as ``nova-compute``)::

    NOVA_DRS_LAB_FAKE_NODES=500 python nova_lab_multinode.py \
        --config-file nova.conf --config-file compute-extra.conf

Nova's fake driver reports one node per nova-compute (its ``_set_nodes``
is for Nova's own tests). This launcher runs Nova's own ``nova-compute``
entry point; its configuration sets ``compute_driver =
lab_multinode.MultiNodeFakeDriver``, which this launcher defines: a subclass of
``fake.FakeLiveMigrateDriver``, registered as the module
``nova.virt.lab_multinode`` because Nova loads drivers from ``nova.virt``
only. Nova itself is not changed.

Node names: the first node is named as the service host (so that the
lab's readiness check and the balancer's "first node of a host" find it),
the others ``HOST-node-0002`` ... (:func:`node_names`). Node uuids are
derived from the names (uuid5), not the fake driver's per-process
sentinels: a compute restarted with more nodes finds its earlier nodes
under the same uuids, and only the new ones are created.

Used by ``tools/lab/nova-nodes.sh`` (the reads benchmark and the
functional test of the balancer's Nova reads at scale).
"""

import os
import sys
import types
import uuid

#: the namespace of the nodes' uuids (any fixed uuid)
NODE_NAMESPACE = uuid.UUID('5f1c7a5e-6e0b-4c1e-9a57-6e6f76612d6e')


def node_names(host, count):
    """The names of the ``count`` fake nodes of compute service ``host``."""
    return [host] + ['%s-node-%04d' % (host, n) for n in range(2, count + 1)]


def node_uuid(name):
    return str(uuid.uuid5(NODE_NAMESPACE, name))


def main():
    count = int(os.environ.get('NOVA_DRS_LAB_FAKE_NODES', '1'))
    if count < 1:
        sys.exit('NOVA_DRS_LAB_FAKE_NODES must be 1 or more')
    # Nova's command module first: it sets up the process (monkey
    # patching where Nova still does it) before the driver is imported
    from nova.cmd import compute
    from nova.virt import fake

    class MultiNodeFakeDriver(fake.FakeLiveMigrateDriver):
        """The fake driver, with ``count`` nodes of stable uuids."""

        def init_host(self, host):
            super().init_host(host)
            self._set_nodes(node_names(host, count))

        def get_available_resource(self, nodename):
            resources = super().get_available_resource(nodename)
            if resources:
                resources['uuid'] = node_uuid(nodename)
            return resources

        def get_nodenames_by_uuid(self, refresh=False):
            return {node_uuid(n): n for n in self.get_available_nodes()}

    module = types.ModuleType('nova.virt.lab_multinode')
    module.MultiNodeFakeDriver = MultiNodeFakeDriver
    sys.modules[module.__name__] = module
    compute.main()


if __name__ == '__main__':
    main()
