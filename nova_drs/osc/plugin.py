# SPDX-License-Identifier: Apache-2.0
"""python-openstackclient plugin module of ``openstack drs``.

OSC finds this module through the ``openstack.cli.extension`` entry point
``drs``, adds the options of :func:`build_option_parser` to its own, loads
the commands of the ``openstack.drs.v1`` entry points, and calls
:func:`make_client` the first time a command uses
``self.app.client_manager.drs``.

Endpoint: the Keystone catalog's ``drs`` service, unless
``--os-drs-endpoint`` (``OS_DRS_ENDPOINT``) names the API's URL.

``NOVA_DRS_NOAUTH_HEADERS`` (development and tests only): a JSON object of
``X-...`` headers added to every request, for an API running in its
``noauth`` mode, which trusts ``X-Roles``, ``X-Project-Id`` and
``X-User-Id`` instead of a Keystone token, e.g.::

    export NOVA_DRS_NOAUTH_HEADERS='{"X-Roles": "admin",
        "X-Project-Id": "demo", "X-User-Id": "alice"}'
    openstack --os-auth-type none --os-drs-endpoint http://127.0.0.1:9700 \\
        drs status

A real deployment never needs it: behind keystonemiddleware these headers
are set from the token and anything the client sends is overwritten. (Not
an ``OS_*`` variable: openstacksdk reads every ``OS_*`` variable into its
configuration and would choke on the braces of the JSON.)
"""

import json
import logging
import os
import re

from osc_lib import exceptions
from osc_lib import utils

from nova_drs import client as drs_client

LOG = logging.getLogger(__name__)

API_NAME = 'drs'
API_VERSION_OPTION = 'os_drs_api_version'
# NOTE: the newest version the commands know, so that they show what the
# API has (each replica's report, a host's pause); the CLI and the API
# ship together. --os-drs-api-version asks for another.
DEFAULT_API_VERSION = drs_client.LATEST_API_VERSION
API_VERSIONS = {'1': 'nova_drs.client.Client'}
_CLI_VERSION = re.compile(r'^1\.(0|[1-9][0-9]*)$')

NOAUTH_HEADERS_ENV = 'NOVA_DRS_NOAUTH_HEADERS'


def check_api_version(version):
    """Accept ``1.N``; returning True skips OSC's API_VERSIONS check.

    Any 1.x is checked by the API itself (406 with its supported range).
    "latest" is refused: OSC loads the commands of
    ``openstack.drs.v<major>``, and would find none for it.
    """
    if not _CLI_VERSION.match(str(version)):
        raise exceptions.CommandError(
            'invalid nova-drs API version %r: use 1.N (e.g. 1.0)' % version)
    return True


def noauth_headers(environ=None):
    """The development-only headers of ``NOVA_DRS_NOAUTH_HEADERS``."""
    environ = os.environ if environ is None else environ
    text = environ.get(NOAUTH_HEADERS_ENV, '').strip()
    if not text:
        return {}
    try:
        headers = json.loads(text)
    except ValueError as exc:
        raise exceptions.CommandError(
            '%s is not a JSON object: %s' % (NOAUTH_HEADERS_ENV, exc))
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and k.lower().startswith('x-') and
            isinstance(v, str) for k, v in headers.items()):
        raise exceptions.CommandError(
            '%s must be a JSON object of "X-..." header names to strings'
            % NOAUTH_HEADERS_ENV)
    LOG.debug('Adding development headers %s', sorted(headers))
    return headers


def make_client(instance):
    """Return the :class:`nova_drs.client.Client` of an OSC session."""
    config = instance.get_configuration()
    version = instance._api_version.get(API_NAME, DEFAULT_API_VERSION)
    endpoint = config.get('drs_endpoint') or None
    LOG.debug('Instantiating nova-drs client: API version %s, endpoint %s',
              version, endpoint or '(catalog)')
    return drs_client.Client(
        instance.session, endpoint_override=endpoint, api_version=version,
        interface=instance.interface, region_name=instance.region_name,
        headers=noauth_headers())


def build_option_parser(parser):
    """Add the global options of the nova-drs plugin."""
    parser.add_argument(
        '--os-drs-api-version',
        metavar='<drs-api-version>',
        default=utils.env('OS_DRS_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='nova-drs API microversion, 1.N (default: env[OS_DRS_API_'
             'VERSION] or %s)' % DEFAULT_API_VERSION)
    parser.add_argument(
        '--os-drs-endpoint',
        metavar='<drs-endpoint>',
        default=utils.env('OS_DRS_ENDPOINT'),
        help='nova-drs API URL, instead of the catalog\'s "drs" endpoint '
             '(default: env[OS_DRS_ENDPOINT])')
    return parser
