# SPDX-License-Identifier: Apache-2.0
"""A paste filter that stands in for keystonemiddleware in the Nova lab.

FOR TESTS ONLY: it believes whatever token it is given.

Nova 34 ships no ``noauth2`` pipeline any more: ``pipeline_factory_v21``
only reads the ``keystone`` pipeline, whose ``authtoken`` filter needs a
Keystone. The lab's api-paste.ini puts this filter in its place. The
``X-Auth-Token`` header is read as ``USER`` or ``USER:PROJECT`` and turned
into the identity headers that Nova's ``keystonecontext`` filter reads, as
auth_token would after validating a real token:

* user ``admin`` gets the roles admin, member and reader;
* any other user gets member and reader.

Placement keeps its own ``[api] auth_strategy = noauth2``, which reads the
token ``admin`` the same way, so the one token ``admin`` works for both
services (keystoneauth's ``admin_token`` plugin sends it).
"""

import webob.dec
import webob.exc

ADMIN_ROLES = ('admin', 'member', 'reader')
USER_ROLES = ('member', 'reader')


class NoAuthFilter(object):
    """Turn ``X-Auth-Token: user[:project]`` into identity headers."""

    def __init__(self, application):
        self.application = application

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls

    @webob.dec.wsgify
    def __call__(self, req):
        token = (req.headers.get('X-Auth-Token') or '').strip()
        if not token:
            return webob.exc.HTTPUnauthorized(
                explanation='nova lab: send X-Auth-Token: user[:project]')
        user, _, project = token.partition(':')
        project = project or user
        roles = ADMIN_ROLES if user == 'admin' else USER_ROLES
        req.headers.update({
            'X-Identity-Status': 'Confirmed',
            'X-User-Id': user,
            'X-User-Name': user,
            'X-User-Domain-Id': 'default',
            'X-Project-Id': project,
            'X-Project-Name': project,
            'X-Project-Domain-Id': 'default',
            'X-Roles': ','.join(roles),
        })
        return req.get_response(self.application)
