# SPDX-License-Identifier: Apache-2.0
"""nova-drs-balancer: from the agents' metrics to Nova live migrations.

One sub-package per part, in the order data flows through them:

* :mod:`.intake`: the agents' metrics and Nova's notifications coming in;
* :mod:`.view`: the cluster as the balancer sees it (hosts' load and hot
  state, Nova's servers and Placement's inventories);
* :mod:`.planning`: a cluster view in, a migration plan out (with the
  stevedore-loaded :mod:`.strategies`);
* :mod:`.execution`: a stored plan carried out as live migrations;
* :mod:`.coordination`: replicas dividing the hosts between them.

:mod:`.manager` wires them together and runs the main loop;
:mod:`.service` runs the manager as a service; :mod:`.clients` makes the
Nova and Placement connections.
"""
