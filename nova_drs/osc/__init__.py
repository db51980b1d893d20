# SPDX-License-Identifier: Apache-2.0
"""The ``openstack drs`` commands (python-openstackclient plugin)."""
