# SPDX-License-Identifier: Apache-2.0
"""Matching a request's method and path to a route.

Paths are templates such as ``/v1/plans/{uuid}/apply``; a ``{name}``
matches one non-empty path segment, passed to the handler by name. A path
that matches with another method is a 405 (with ``Allow``), one that
matches nothing a 404.
"""

import dataclasses
import re
import urllib.parse

from nova_drs.api import errors

_PARAM = re.compile(r'\{([a-z_]+)\}')

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


def _compile(template):
    pattern = _PARAM.sub(lambda m: '(?P<%s>[^/]+)' % m.group(1),
                         re.escape(template).replace(r'\{', '{')
                         .replace(r'\}', '}'))
    return re.compile('^%s$' % pattern)


class Router:
    def __init__(self, routes):
        self.routes = list(routes)
        self._compiled = [(_compile(r.template), r) for r in self.routes]

    def match(self, method, path):
        """The route and its path parameters (decoded).

        :raises errors.NotFound: no route has this path
        :raises errors.MethodNotAllowed: the path exists, not the method
        """
        if len(path) > 1:
            path = path.rstrip('/')
        allowed = []
        for regex, route in self._compiled:
            found = regex.match(path)
            if found is None:
                continue
            if route.method == method:
                params = {k: urllib.parse.unquote(v)
                          for k, v in found.groupdict().items()}
                return route, params
            allowed.append(route.method)
        if allowed:
            raise errors.MethodNotAllowed(method, sorted(set(allowed)))
        raise errors.NotFound('no resource at %s' % path)
