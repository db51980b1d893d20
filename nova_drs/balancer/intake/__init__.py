# SPDX-License-Identifier: Apache-2.0
"""Intake: what reaches the balancer.

The agents' metrics (:mod:`.listener`, one pool per replica or, with
``[drs_listener] partitions``, only the partitions this replica owns:
:mod:`.partitions`) and Nova's versioned notifications
(:mod:`.nova_events`), checked and handed to the view.
"""
