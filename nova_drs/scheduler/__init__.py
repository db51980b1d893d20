# SPDX-License-Identifier: Apache-2.0
"""The nova-drs plugins of nova-scheduler (doc/source/scheduler.rst).

* :class:`nova_drs.scheduler.filters.DRSHotspotFilter` rejects the hosts
  nova-drs reports hot, or reserves as live-migration destinations;
* :class:`nova_drs.scheduler.weighers.DRSLoadWeigher` prefers measured
  CPU and memory headroom;
* :mod:`nova_drs.scheduler.state` keeps what they read in memory,
  refreshed from the nova-drs database by a background thread.

They run inside nova-scheduler, so importing them must stay cheap: only
Nova's base classes, oslo.config and oslo.log at import time; the
database layer is imported by the refresh thread.
"""
