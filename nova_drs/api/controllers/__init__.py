# SPDX-License-Identifier: Apache-2.0
"""One module per resource; each handler is ``handler(call, **params)``
returning ``(status, body)`` (see :class:`nova_drs.api.app.Call`)."""
