# SPDX-License-Identifier: Apache-2.0
"""Coordination: replicas dividing the hosts between them.

:mod:`.membership` (tooz group membership, host and partition ownership
as leases), :mod:`.shared_state` (the compact per-host state every
replica reads, written by each host's owner) and
:mod:`.backend_retries` (how long a lost coordination backend is
retried).
"""
