# SPDX-License-Identifier: Apache-2.0
"""The compute-node agent, ``nova-drs-agent``.

One agent runs on every compute host. Each cycle it

1. reads the host's statistics from ``/proc`` (:mod:`.hoststats`) and every
   guest's from libvirt in one ``getAllDomainStats`` call
   (:mod:`.inspector`, the only module that imports libvirt);
2. turns counters into rates and utilisations, smooths them and flags
   local hotspots (:mod:`.metrics`);
3. asks the balloon policy for targets and applies them
   (:mod:`.balloon`);
4. publishes everything as an oslo.messaging notification
   (:mod:`.publisher`).

:mod:`.manager` runs the cycle, :mod:`.service` wraps it for cotyledon.
"""

import sys


def use_native_threads():
    """Set the process up for native threads; call first in ``main()``.

    oslo.messaging imports oslo.service, whose default backend is
    eventlet, and imports eventlet itself whenever it is installed, only
    to detect monkey patching. The agent uses native threads throughout,
    so it selects oslo.service's threading backend and makes ``import
    eventlet`` fail before anything imports oslo.messaging: no eventlet
    code runs, and the process is about 17 MB smaller.
    """
    if 'eventlet' not in sys.modules:
        sys.modules['eventlet'] = None
    from oslo_service import backend
    try:
        backend.init_backend(backend.BackendType.THREADING)
    except backend.exceptions.BackendAlreadySelected:
        pass
