# SPDX-License-Identifier: Apache-2.0
"""Replay utilisation traces through the balancer and the balloon policy.

``nova-drs simulate`` (:mod:`.cli`) reads a trace (:mod:`.traces`),
turns it into instances (:mod:`.workload`, :mod:`.memory`), places them
(:mod:`.placement`) and replays it under each strategy (:mod:`.engine`,
with :mod:`.guests`, :mod:`.ballooning`, :mod:`.migrations` and
:mod:`.metrics`), then writes the table, JSON and plots (:mod:`.report`,
:mod:`.plots`). See ``doc/source/simulator.rst``.
"""
