# SPDX-License-Identifier: Apache-2.0
"""The region-scale load test: a generated region and its Nova double."""
