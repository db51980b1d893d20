# SPDX-License-Identifier: Apache-2.0
"""Matching a request's method and path to a route.

Paths are templates such as ``/v1/plans/{uuid}/apply``; a ``{name}``
matches one non-empty path segment, passed to the handler by name. A path
that matches with another method is a 405 (with ``Allow``), one that
matches nothing a 404.
"""

import dataclasses
import urllib.parse

import routes as routes_lib

from nova_drs.api import errors

#: the route's rule is checked before the controller, on the caller's own
#: project (cluster-wide data)
CLUSTER = 'cluster'
#: the controller checks the route's rule on the server Nova showed the
#: caller; only the token's scope is checked before
SERVER = 'server'


@dataclasses.dataclass(frozen=True)
class Route:
    """One operation of the API."""

    method: str
    template: str
    #: ``handler(call, **path_params)`` -> (status, body)
    handler: object
    #: the policy rule to pass; None: public (no authentication)
    rule: str = None
    #: JSON schema of the query string (None: no parameters)
    query: dict = None
    #: JSON schema of the body; None: no body accepted
    body: dict = None
    #: what the rule's target is: :data:`CLUSTER` or :data:`SERVER`
    policy_target: str = CLUSTER


#: the key under which a match names its template (not a path parameter:
#: those are lower-case words)
_TEMPLATE_KEY = 'NOVA_DRS_TEMPLATE'


class Router:
    """The routes, matched with the ``routes`` library (as Placement does).

    Each template is connected once; the method is chosen here, so that a
    path that exists with another method is a 405 rather than a 404.
    """

    def __init__(self, routes):
        self.routes = list(routes)
        self._methods = {}
        self._mapper = routes_lib.Mapper()
        for route in self.routes:
            if route.template not in self._methods:
                self._methods[route.template] = {}
                self._mapper.connect(route.template,
                                     **{_TEMPLATE_KEY: route.template})
            self._methods[route.template][route.method] = route

    def match(self, method, path):
        """The route and its path parameters (decoded).

        :raises errors.NotFound: no route has this path
        :raises errors.MethodNotAllowed: the path exists, not the method
        """
        if len(path) > 1:
            path = path.rstrip('/')
        found = self._mapper.match(path)
        if found is None:
            raise errors.NotFound('no resource at %s' % path)
        methods = self._methods[found.pop(_TEMPLATE_KEY)]
        route = methods.get(method)
        if route is None:
            raise errors.MethodNotAllowed(method, sorted(methods))
        params = {k: urllib.parse.unquote(v) for k, v in found.items()}
        return route, params
