# SPDX-License-Identifier: Apache-2.0
"""Version information read from the installed distribution (pbr)."""

import pbr.version

version_info = pbr.version.VersionInfo('nova-drs')
