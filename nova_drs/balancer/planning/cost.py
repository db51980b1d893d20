# SPDX-License-Identifier: Apache-2.0
"""Live-migration cost model.

Pre-copy live migration sends the guest's memory in use, then re-sends the
pages the guest dirtied meanwhile, round after round. With bandwidth ``B``
and dirty rate ``D`` (both MB/s), the rounds form a geometric series, so
the data sent is about ``M / (1 - D / B)`` for memory in use ``M``. When
``D`` approaches ``B`` the series does not converge: QEMU then needs
auto-converge or post-copy and the guest suffers, so such moves are priced
at :data:`NON_CONVERGING_FACTOR` times their memory.
"""

import numpy as np

#: Dirty-rate share of bandwidth above which a migration is deemed not to
#: converge by pre-copy alone.
CONVERGENCE_LIMIT = 0.8
NON_CONVERGING_FACTOR = 10.0


def transfer_mb(mem_used_mb, dirty_rate_mb_s, bandwidth_mb_s):
    """Estimated MiB sent to migrate instances (vectorised)."""
    mem = np.asarray(mem_used_mb, dtype=float)
    ratio = np.asarray(dirty_rate_mb_s, dtype=float) / float(bandwidth_mb_s)
    factor = np.where(ratio < CONVERGENCE_LIMIT,
                      1.0 / (1.0 - np.minimum(ratio, CONVERGENCE_LIMIT)),
                      NON_CONVERGING_FACTOR)
    return mem * factor


def duration_s(transfer, bandwidth_mb_s):
    """Seconds to send ``transfer`` MiB at the configured bandwidth."""
    return np.asarray(transfer, dtype=float) / float(bandwidth_mb_s)
