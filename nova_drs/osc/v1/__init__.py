# SPDX-License-Identifier: Apache-2.0
"""``openstack drs`` commands of API v1."""
