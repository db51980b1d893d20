# SPDX-License-Identifier: Apache-2.0
"""Planning: cluster view in, migration plan out.

:mod:`.planner` runs a strategy (:mod:`nova_drs.balancer.strategies`,
stevedore-loaded) on the view; the strategies share destination choice
(:mod:`.placement`, :mod:`.destinations`, :mod:`.cost`), host
evacuation (:mod:`.evacuation`) and consolidation
(:mod:`.consolidation`); :mod:`.plan` is the plan they return and
:mod:`.requests` the plan requests operators file through the API.
"""
