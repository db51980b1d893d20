# SPDX-License-Identifier: Apache-2.0
"""View: the balancer's picture of the cluster.

Per-host load and hot state from the agents' reports (:mod:`.host_view`,
with :mod:`.peaks`), Nova's services, servers, groups and aggregates
(:mod:`.nova_view`, read incrementally through :mod:`.api_reads`) and
Placement's inventories (:mod:`.inventory`), merged into the cluster model
the planner works on.
"""
