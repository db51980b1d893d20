# SPDX-License-Identifier: Apache-2.0
"""Execution: a stored plan carried out as Nova live migrations.

:mod:`.executor` starts a plan's actions within the migration limits,
follows them and takes over those of a replica that died;
:mod:`.actuator` is the one place that talks to Nova's migration API.
"""
