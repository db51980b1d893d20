# SPDX-License-Identifier: Apache-2.0
"""The version documents: ``GET /`` and ``GET /v1`` (no authentication).

Clients (openstacksdk's version discovery, the OSC plugin) read the
microversion range here.
"""

from nova_drs.api import microversion


def _v1(call):
    return {'id': 'v1', 'status': 'CURRENT',
            'min_version': str(microversion.MIN_VERSION),
            'max_version': str(microversion.MAX_VERSION),
            'links': [{'rel': 'self', 'href': call.base_url + '/v1'}]}


def root(call):
    return 200, {'versions': [_v1(call)]}


def v1(call):
    return 200, {'version': _v1(call)}
