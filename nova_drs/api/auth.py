# SPDX-License-Identifier: Apache-2.0
"""Who makes a request: keystonemiddleware, or ``noauth`` for tests.

With ``[drs_api] auth_strategy = keystone`` the resources under /v1 sit
behind keystonemiddleware's ``auth_token``, which validates the token and
sets the identity headers (``X-User-Id``, ``X-Project-Id``, ``X-Roles``,
``OpenStack-System-Scope``...), dropping any a client sent. With
``noauth`` the client's own headers are trusted; keystone's default role
implications are applied (admin implies member implies reader), so that a
request with ``X-Roles: admin`` behaves as an admin token would.

:func:`caller_auth` gives the keystoneauth plugin with which the API calls
Nova *as the caller* (never with its own credentials), so that Nova
decides what the caller may see and change.
"""

from keystoneauth1 import token_endpoint
from keystonemiddleware import auth_token
from oslo_context import context

from nova_drs.api import errors

#: keystone's default role implications (``keystone-manage bootstrap``)
IMPLIED_ROLES = {'admin': ('member', 'reader'), 'member': ('reader',)}

NOAUTH_USER = 'noauth-user'


def keystone(app, conf):
    """``app`` behind keystonemiddleware (``[keystone_authtoken]``)."""
    return auth_token.AuthProtocol(app, {'oslo_config_config': conf})


class NoAuth:
    """Trust the identity headers of the request (tests, development)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        roles = [r.strip() for r in environ.get('HTTP_X_ROLES', '').split(',')
                 if r.strip()]
        for role in list(roles):
            roles.extend(r for r in IMPLIED_ROLES.get(role.lower(), ())
                         if r not in roles)
        environ['HTTP_X_ROLES'] = ','.join(roles)
        environ.setdefault('HTTP_X_USER_ID', NOAUTH_USER)
        environ['HTTP_X_IDENTITY_STATUS'] = 'Confirmed'
        return self.app(environ, start_response)


def request_context(environ):
    """The oslo.context RequestContext of an authenticated request."""
    return context.RequestContext.from_environ(environ)


#: where keystonemiddleware leaves the caller's auth plugin
CALLER_PLUGIN = 'keystone.token_auth'


class NoEndpoint(Exception):
    """No endpoint to reach Nova at; the message says which option."""


def caller_auth(environ, conf):
    """The keystoneauth plugin that acts as the caller of a request.

    ``keystone``: keystonemiddleware's plugin in ``keystone.token_auth``
    (the caller's validated token and service catalog). ``noauth``: the
    request's own ``X-Auth-Token``, forwarded to ``[drs_nova]
    endpoint_override`` (there is no catalog without Keystone).

    :raises errors.Unauthorized: the request carries no token to act with
    :raises NoEndpoint: noauth without ``[drs_nova] endpoint_override``
    """
    if conf.drs_api.auth_strategy == 'keystone':
        plugin = environ.get(CALLER_PLUGIN)
        if plugin is None or not getattr(plugin, 'has_user_token', False):
            raise errors.Unauthorized(
                'this request carries no user token to read Nova with')
        return plugin
    token = (environ.get('HTTP_X_AUTH_TOKEN') or '').strip()
    if not token:
        raise errors.Unauthorized(
            'auth_strategy is noauth: send X-Auth-Token, which the API '
            'forwards to Nova to act as you')
    endpoint = conf.drs_nova.endpoint_override
    if not endpoint:
        raise NoEndpoint('[drs_api] auth_strategy is noauth, which has no '
                         'service catalog: set [drs_nova] endpoint_override '
                         'to Nova\'s URL')
    return token_endpoint.Token(endpoint, token)
