# SPDX-License-Identifier: Apache-2.0
"""Data files shipped with nova-drs (the example cluster snapshot)."""
