# SPDX-License-Identifier: Apache-2.0
"""The WSGI application: routes, versions, auth, policy, validation.

A request goes through, in order:

1. version negotiation (:mod:`.microversion`; 400/406),
2. routing (:mod:`.router`; 404/405),
3. for the resources under /v1: authentication (keystonemiddleware, or
   ``noauth``; 401) and the route's policy rule (403),
4. validation of the query string and the JSON body against the route's
   schemas (:mod:`.schemas`; the body read by :mod:`.body`: 400/411/415),
5. the controller (which checks the instance rules on the server Nova
   showed the caller, :mod:`.access`).

Every answer, errors included, carries ``OpenStack-API-Version`` and
``Vary``; every error has the JSON shape of :mod:`.errors` (an error
answered by keystonemiddleware in another shape is rewritten to it), and
an unexpected exception is logged and answered with a generic 500. An
expected failure (the database or Nova cannot be reached) is a 503 with
one warning line in the log, never a traceback.
"""

import dataclasses
import functools
import re

from oslo_db import exception as db_exc
from oslo_log import log as logging
from oslo_serialization import jsonutils
import webob

from nova_drs.api import access as access_mod
from nova_drs.api import auth
from nova_drs.api import body as body_mod
from nova_drs.api.controllers import balancer
from nova_drs.api.controllers import events
from nova_drs.api.controllers import hosts
from nova_drs.api.controllers import instances
from nova_drs.api.controllers import migrations
from nova_drs.api.controllers import openapi
from nova_drs.api.controllers import plan_requests
from nova_drs.api.controllers import plans
from nova_drs.api.controllers import status
from nova_drs.api.controllers import versions
from nova_drs.api import errors
from nova_drs.api import microversion
from nova_drs.api import policies
from nova_drs.api import router
from nova_drs.api import schemas
from nova_drs.api import services as services_mod
from nova_drs.db import api as db_api
from nova_drs import masking

LOG = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = ('The nova-drs database cannot be reached; the '
                        'API\'s log has the details.')

#: the largest request body accepted (the biggest valid one is ~100 bytes)
MAX_BODY = body_mod.MAX_BYTES

_UUID_RE = re.compile(schemas.UUID_PATTERN)
_R = router.Route
S = schemas

#: every operation of the API (the OpenAPI document lists the same; a
#: unit test compares them)
ROUTES = [
    _R('GET', '/', versions.root),
    _R('GET', '/v1', versions.v1),
    _R('GET', '/openapi.yaml', openapi.show),
    _R('GET', '/v1/hosts', hosts.index, 'drs:host:list', S.HOSTS_QUERY),
    _R('GET', '/v1/hosts/{host}', hosts.show, 'drs:host:show'),
    _R('PATCH', '/v1/hosts/{host}', hosts.update, 'drs:host:update',
       body=S.HOST_UPDATE),
    _R('POST', '/v1/hosts/{host}/evacuate', hosts.evacuate,
       'drs:host:evacuate', body=S.EVACUATE),
    _R('GET', '/v1/instances/{uuid}', instances.show,
       policies.INSTANCE_SHOW, policy_target=router.SERVER),
    _R('PATCH', '/v1/instances/{uuid}', instances.update,
       policies.INSTANCE_UPDATE, body=S.INSTANCE_UPDATE,
       policy_target=router.SERVER),
    _R('GET', '/v1/plans', plans.index, 'drs:plan:list', S.PLANS_QUERY),
    _R('POST', '/v1/plans', plans.create, 'drs:plan:create',
       body=S.PLAN_CREATE),
    _R('GET', '/v1/plans/{uuid}', plans.show, 'drs:plan:show'),
    _R('POST', '/v1/plans/{uuid}/apply', plans.apply, 'drs:plan:apply',
       body=S.NO_BODY),
    _R('POST', '/v1/plans/{uuid}/cancel', plans.cancel, 'drs:plan:cancel',
       body=S.NO_BODY),
    _R('GET', '/v1/plan-requests/{uuid}', plan_requests.show,
       policies.PLAN_REQUEST_SHOW),
    _R('GET', '/v1/migrations', migrations.index, 'drs:migration:list',
       S.MIGRATIONS_QUERY),
    _R('GET', '/v1/migrations/{uuid}', migrations.show,
       'drs:migration:show'),
    _R('GET', '/v1/events', events.index, 'drs:event:list',
       S.EVENTS_QUERY),
    _R('GET', '/v1/status', status.show, 'drs:status:show'),
    _R('GET', '/v1/balancer', balancer.show, 'drs:balancer:show'),
    _R('PATCH', '/v1/balancer', balancer.update, 'drs:balancer:update',
       body=S.BALANCER_UPDATE),
]


@dataclasses.dataclass
class Call:
    """One request, as a controller sees it."""

    req: webob.Request
    conf: object
    services: services_mod.Services
    version: microversion.Version
    #: oslo.context RequestContext (None on public routes)
    context: object = None
    #: the validated query string ({name: str})
    query: dict = dataclasses.field(default_factory=dict)
    #: the validated JSON body ({} when none)
    body: dict = dataclasses.field(default_factory=dict)
    #: the policy checks (:class:`.access.Access`)
    access: object = None

    @property
    def db(self):
        return self.services.db

    @functools.cached_property
    def nova(self):
        """Nova's servers as the caller sees them (the caller's token)."""
        return self.services.nova.as_caller(self.req.environ)

    def close(self):
        """Release what the request opened (its connection to Nova)."""
        caller_nova = self.__dict__.get('nova')
        if caller_nova is not None:
            caller_nova.close()

    def authorize(self, rule, target):
        """Pass ``rule`` on ``target`` or raise a 403 naming it."""
        self.access.authorize(rule, self.context, target)

    def allowed(self, rule, target):
        """Whether ``rule`` passes on ``target`` (what an answer shows)."""
        return self.access.allowed(rule, self.context, target)

    @property
    def replicas(self):
        return self.services.replicas

    @property
    def user(self):
        """The user, for ``created_by`` and the audit trail."""
        return (self.context and self.context.user_id) or 'unknown'

    @property
    def base_url(self):
        """The API's root URL as clients reach it (no trailing slash)."""
        public = self.conf.drs_api.public_endpoint
        return (public or self.req.application_url).rstrip('/')


class Application:
    """The nova-drs API as a WSGI callable.

    :param conf: configuration with ``[drs_api]`` and the groups the
        resources read (``[drs_database]``, ``[drs_nova]``,
        ``[drs_coordination]``, ``[drs_balancer]``, ``[drs_balloon]``)
        and, for ``keystone``, ``[keystone_authtoken]``
    :param services: the connections (:class:`Services`; built from
        ``conf`` by default)
    """

    def __init__(self, conf, services=None):
        self.conf = conf
        self.services = services or services_mod.Services(conf)
        self.router = router.Router(ROUTES)
        self.enforcer = policies.make_enforcer(conf)
        self.access = access_mod.Access(self.enforcer)
        if conf.drs_api.auth_strategy == 'keystone':
            self._protected = auth.keystone(self._handle, conf)
        else:
            LOG.warning('[drs_api] auth_strategy is noauth: every request '
                        'is trusted to say who makes it. Never expose '
                        'this API to a network.')
            self._protected = auth.NoAuth(self._handle)

    def __call__(self, environ, start_response):
        headers = microversion.response_headers(microversion.MIN_VERSION)
        if not environ.get('REQUEST_METHOD'):
            # NOTE: uWSGI passes a request line it cannot parse ("GARBAGE")
            # on to the application without a method
            response = errors.error_response(
                400, 'malformed request: no method in the request line')
            response.headers.update(headers)
            return response(dict(environ, REQUEST_METHOD='GET'),
                            start_response)
        if not environ.get('PATH_INFO'):
            # PEP 3333: absent or empty at the application's root
            environ['PATH_INFO'] = '/'
        try:
            req = webob.Request(environ)
            version = microversion.requested(req.headers)
            headers = microversion.response_headers(version)
            route, params = self.router.match(req.method, req.path_info)
            environ['nova_drs.route'] = (route, params, version)
            if route.rule is None:
                return self._handle(
                    environ, _adding_headers(start_response, headers))
            response = _in_error_shape(req.get_response(self._protected))
        except errors.APIError as e:
            response = e.response()
        except UnicodeDecodeError:
            response = errors.error_response(
                400, 'the request\'s path is not valid UTF-8')
        except Exception:
            LOG.exception('Unexpected error before %s %s',
                          environ.get('REQUEST_METHOD'),
                          environ.get('PATH_INFO'))
            response = errors.error_response(500, errors.INTERNAL_ERROR)
        response.headers.update(headers)
        return response(environ, start_response)

    # -- the request, once routed (and authenticated) ----------------------

    def _handle(self, environ, start_response):
        req = webob.Request(environ)
        route, params, version = environ['nova_drs.route']
        try:
            response = self._respond(req, route, params, version)
        except errors.APIError as e:
            response = e.response()
        except db_exc.DBConnectionError as e:
            # NOTE: an expected condition: one line, no traceback
            LOG.warning('The database cannot be reached: %s',
                        _one_line(e))
            response = errors.error_response(503, DATABASE_UNAVAILABLE)
        except db_api.DatabaseNotConfigured as e:
            LOG.warning('No database: %s', e)
            response = errors.error_response(503, DATABASE_UNAVAILABLE)
        except Exception:
            LOG.exception('Unexpected error in %s %s', req.method,
                          req.path_info)
            response = errors.error_response(500, errors.INTERNAL_ERROR)
        return response(environ, start_response)

    def _respond(self, req, route, params, version):
        call = Call(req=req, conf=self.conf, services=self.services,
                    version=version, access=self.access)
        if route.rule is not None:
            call.context = auth.request_context(req.environ)
            if route.policy_target == router.CLUSTER:
                self.access.authorize(
                    route.rule, call.context,
                    access_mod.cluster_target(call.context))
            else:
                self.access.check_scope(route.rule, call.context)
        params = {name: _path_param(name, value)
                  for name, value in params.items()}
        call.query = _query(req, route)
        call.body = _body(req, route)
        try:
            status_code, result = route.handler(call, **params)
        finally:
            call.close()
        if isinstance(result, webob.Response):
            result.status = status_code
            return result
        return webob.Response(status=status_code, charset='UTF-8',
                              content_type='application/json',
                              body=jsonutils.dump_as_bytes(result))


def _one_line(exc):
    """An exception's text for a log line: one line, URLs masked."""
    return masking.mask_url(' '.join(str(exc).split()))


def _in_error_shape(response):
    """``response``, with an error body in the API's shape.

    keystonemiddleware answers its 401 in this shape already, but a 503
    (Keystone unreachable) or a 400 as webob renders it: HTML or text.
    """
    if response.status_int < 400 or errors.is_error_body(response):
        return response
    shaped = errors.error_response(response.status_int,
                                   errors.foreign_message(response))
    for name, value in response.headers.items():
        if name.lower() not in ('content-type', 'content-length'):
            shaped.headers[name] = value
    return shaped


def _adding_headers(start_response, extra):
    def start(status, headers, exc_info=None):
        names = {name.lower() for name in extra}
        headers = [(n, v) for n, v in headers if n.lower() not in names]
        headers.extend(extra.items())
        return start_response(status, headers, exc_info)
    return start


def _path_param(name, value):
    if name == 'uuid':
        if not _UUID_RE.match(value):
            raise errors.BadRequest('%r is not a UUID' % value)
        return value.lower()
    if not value or len(value) > 255:
        raise errors.BadRequest('invalid %s %r' % (name, value))
    return value


def _query(req, route):
    query = {}
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise errors.BadRequest('the query string is not valid UTF-8') \
            from None
    for name, value in items:
        if name in query:
            raise errors.BadRequest('query parameter %s is given more '
                                    'than once' % name)
        query[name] = value
    try:
        schemas.validate(route.query or schemas.NO_QUERY, query, 'query')
    except ValueError as e:
        raise errors.BadRequest(str(e)) from None
    return query


def _body(req, route):
    if route.body is None:
        return {}
    body = body_mod.parse_json(body_mod.raw(req), req.content_type)
    try:
        schemas.validate(route.body, body, 'body')
    except ValueError as e:
        raise errors.BadRequest(str(e)) from None
    return body


def create_app(conf, services=None):
    """The WSGI application for ``conf`` (already loaded)."""
    return Application(conf, services)
