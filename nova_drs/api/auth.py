# SPDX-License-Identifier: Apache-2.0
"""Who makes a request: keystonemiddleware, or ``noauth`` for tests.

With ``[drs_api] auth_strategy = keystone`` the resources under /v1 sit
behind keystonemiddleware's ``auth_token``, which validates the token and
sets the identity headers (``X-User-Id``, ``X-Project-Id``, ``X-Roles``,
``OpenStack-System-Scope``...), dropping any a client sent. With
``noauth`` the client's own headers are trusted; keystone's default role
implications are applied (admin implies member implies reader), so that a
request with ``X-Roles: admin`` behaves as an admin token would.
"""

from keystonemiddleware import auth_token
from oslo_context import context

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
