# SPDX-License-Identifier: Apache-2.0
"""Options of the REST API service: the ``[drs_api]`` group.

``nova-drs-api`` (development server) and ``nova_drs.wsgi.api:application``
(uWSGI or any WSGI server) read them; see doc/source/api.rst. Authentication
itself is keystonemiddleware's ``[keystone_authtoken]``, the policy file
oslo.policy's ``[oslo_policy]``.
"""

from oslo_config import cfg

api_group = cfg.OptGroup(
    name='drs_api',
    title='nova-drs REST API options',
    help='The nova-drs REST API service (service type ``drs`` in the '
         'Keystone catalog): where the development server listens, how '
         'requests are authenticated, list limits and the links of the '
         'version document.')

#: an API listens for its clients on every address by default, as Nova's
#: osapi_compute_listen does
ALL_ADDRESSES = '0.0.0.0'  # nosec B104

API_OPTS = [
    cfg.HostAddressOpt(
        'host', default=ALL_ADDRESSES,
        help='Address the development server ``nova-drs-api`` listens on. '
             'Not used under uWSGI, whose own configuration says where to '
             'listen.'),
    cfg.PortOpt(
        'port', default=9700,
        help='TCP port of the development server ``nova-drs-api``. Not '
             'used under uWSGI.'),
    cfg.StrOpt(
        'auth_strategy', default='keystone',
        choices=[
            ('keystone', 'keystonemiddleware\'s auth_token validates the '
                         'token of every request under /v1 '
                         '(``[keystone_authtoken]``)'),
            ('noauth', 'no authentication: the identity and roles are '
                       'taken from the ``X-User-Id``, ``X-Project-Id`` and '
                       '``X-Roles`` request headers. For tests and '
                       'development only: anyone who can reach the API is '
                       'whoever they claim to be'),
        ],
        help='How requests are authenticated. Never use ``noauth`` on a '
             'network anyone else can reach.'),
    cfg.IntOpt(
        'max_limit', default=1000, min=1, max=100000,
        help='The most items one page of a list returns; a larger '
             '``limit`` in a request is lowered to it. A longer list ends '
             'with a ``next`` link.'),
    cfg.URIOpt(
        'public_endpoint', default=None, schemes=['http', 'https'],
        help='Base URL of the API as clients reach it (e.g. '
             '``https://cloud.example.org/drs``), for the links of the '
             'version documents and of the ``next`` pages. Useful behind '
             'a proxy or load balancer that changes the host, port or '
             'path; by default the request\'s own URL is used.'),
    cfg.IntOpt(
        'host_stale_after', default=120, min=1, max=86400,
        help='A host whose state the balancer has not rewritten for this '
             'many seconds is shown ``stale`` by the API (the balancer '
             'replica that owns it stopped or cannot reach the database), '
             'whatever the stored state says. Keep it well above '
             '``[drs_balancer] host_state_interval``.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] host_state_interval``'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(api_group.name, title=api_group.title,
                         help=api_group.help)
    conf.register_group(group)
    conf.register_opts(API_OPTS, group=group)


def list_opts():
    return {api_group: API_OPTS}
