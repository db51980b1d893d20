# SPDX-License-Identifier: Apache-2.0
"""Every test process runs as the services do: without eventlet.

Each ``nova_drs.cmd`` entry point selects oslo.service's threading
backend before anything imports oslo.messaging (which imports
oslo.service, whose default backend is eventlet). A test module that
imported oslo.messaging first made every pytest worker import eventlet
and print its deprecation warning, and ran the tests on a backend no
service uses. This file is imported before any test module.
"""

from nova_drs import agent

agent.use_native_threads()
