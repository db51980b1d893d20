# SPDX-License-Identifier: Apache-2.0
"""Notifications nova-drs sends: schemas and validation."""
