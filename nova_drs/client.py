# SPDX-License-Identifier: Apache-2.0
"""A small Python client of the nova-drs REST API (v1).

One method per operation of the API (``doc/source/api.rst``), each
returning the decoded object of the response (a dict, or a list of
dicts for lists).
Requests go through a keystoneauth1 ``Adapter`` (service type ``drs``), so
the endpoint comes from the Keystone catalog unless ``endpoint_override``
is given, and every request carries the microversion header
``OpenStack-API-Version: drs X.Y``.

Every failure is a :class:`ClientError` whose text is the API's own
message (``error.message`` of the JSON error body) with the HTTP status;
connection problems are one too (``status_code`` ``None``), so a caller
needs to catch one exception type only.

Why not an openstacksdk service proxy: an SDK proxy is this same
keystoneauth ``Adapter`` plus ``Resource`` classes, but the SDK only
builds proxies for the service types it ships (``drs`` is not one), so a
proxy here would need a runtime-registered ``ServiceDescription`` and the
SDK's resource machinery for nine resources whose answers, microversion
rules and paging this module already handles in one place; OSC plugins
of services outside the SDK (e.g. python-watcherclient) keep their own
client for the same reason.
"""

import re
import time
from urllib import parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc

SERVICE_TYPE = 'drs'
DEFAULT_API_VERSION = '1.0'
#: the newest API version this client knows (the OSC plugin's default)
LATEST_API_VERSION = '1.4'
#: the first version with operator control (the balancer's settings, a
#: host's pause): these operations do not exist below it
CONTROL_API_VERSION = '1.2'
#: the first version with the audit trail (``GET /v1/events``)
EVENTS_API_VERSION = '1.3'
_VERSION = re.compile(r'^(latest|[1-9][0-9]*\.(0|[1-9][0-9]*))$')
_ERRNO = re.compile(r'\[Errno -?\d+\] ([^"\')\]]+)')

#: The final states of a plan request (``doc/source/api.rst``).
REQUEST_DONE = 'done'
REQUEST_FAILED = 'failed'

# NOTE: a sentinel rather than None, because None is a meaningful value
# for balloon_floor_mb (it removes the floor).
UNSET = object()

# NOTE: a server that sends a "next" link forever (a bug) must not keep a
# command running for ever: no cluster has this many pages of anything.
MAX_PAGES = 10000


class ClientError(Exception):
    """A request failed; ``str()`` is a message fit for an operator.

    ``status_code`` is the HTTP status (``None`` when no response came),
    ``title`` the error's title, ``message`` the API's message.
    """

    def __init__(self, message, status_code=None, title=None):
        self.message = message
        self.status_code = status_code
        self.title = title
        text = message
        if status_code is not None:
            text = '%s (HTTP %s)' % (message, status_code)
        super().__init__(text)


class WaitTimeout(ClientError):
    """A plan request was still pending when the wait ended."""


def _version_tuple(version):
    major, minor = version.split('.')
    return int(major), int(minor)


def at_least(version, minimum):
    """``version``, or ``minimum`` when it is older (``latest`` stays)."""
    if version == 'latest':
        return version
    if _version_tuple(version) < _version_tuple(minimum):
        return minimum
    return version


def validate_api_version(version):
    """Return ``version`` if it is ``X.Y`` or ``latest``, else raise."""
    version = str(version).strip()
    if not _VERSION.match(version):
        raise ValueError(
            'invalid nova-drs API version %r: expected MAJOR.MINOR '
            '(e.g. 1.0) or "latest"' % version)
    return version


def _error_from(response):
    """Build the :class:`ClientError` of an HTTP error response."""
    title = response.reason or ''
    message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get('error'), dict):
        message = body['error'].get('message')
        title = body['error'].get('title') or title
    if not message:
        # NOTE: no JSON error (a proxy in front of the API, or not the
        # API at all): the first line of the body says more than nothing.
        text = (response.text or '').strip().splitlines()
        message = text[0][:200] if text else title or 'request failed'
    return ClientError(message, status_code=response.status_code,
                       title=title)


def _reason(exc):
    """The OS error of a connection failure, e.g. "Connection refused".

    keystoneauth's message repeats the URL and urllib3's whole chain of
    exceptions; the operator needs the last reason only.
    """
    found = _ERRNO.findall(str(exc))
    return found[-1] if found else str(exc)


def _quote(value):
    if value is None or str(value) == '':
        raise ClientError('a name or UUID is required')
    return parse.quote(str(value), safe='')


def _marker_of(next_link):
    """The ``marker`` query parameter of a "next" link, if any."""
    query = parse.parse_qs(parse.urlparse(next_link).query)
    markers = query.get('marker')
    return markers[-1] if markers else None


def _next_link(body):
    for link in body.get('links') or []:
        if isinstance(link, dict) and link.get('rel') == 'next':
            return link.get('href')
    return None


class Client(object):
    """The nova-drs API, one method per operation.

    :param session: a keystoneauth1 session (authenticated, or with the
        ``none`` plugin for an API in ``noauth`` mode).
    :param endpoint_override: the API's root URL (``http://host:9700``);
        ``None`` takes it from the catalog (service type ``drs``). A URL
        ending in ``/v1`` is accepted as well.
    :param api_version: the microversion sent with every request.
    :param headers: extra headers sent with every request (see
        ``nova_drs.osc.plugin`` for the development-only use).
    """

    def __init__(self, session, endpoint_override=None,
                 api_version=DEFAULT_API_VERSION, interface='public',
                 region_name=None, headers=None, timeout=None,
                 sleep=time.sleep, clock=time.monotonic):
        self.api_version = validate_api_version(api_version)
        self.adapter = ks_adapter.Adapter(
            session, service_type=SERVICE_TYPE, interface=interface,
            region_name=region_name, endpoint_override=endpoint_override,
            default_microversion=self.api_version)
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._root = None
        self._sleep = sleep
        self._clock = clock

    # -- transport ---------------------------------------------------------

    def _root_url(self):
        """The API's root URL, without a trailing ``/v1``."""
        if self._root is None:
            try:
                endpoint = self.adapter.get_endpoint()
            except ks_exc.ClientException as exc:
                raise ClientError('cannot find the nova-drs endpoint: %s'
                                  % exc)
            if not endpoint:
                raise ClientError(
                    'no nova-drs endpoint: the catalog has no "drs" '
                    'service and no endpoint was given '
                    '(--os-drs-endpoint)')
            root = endpoint.rstrip('/')
            if root.endswith('/v1'):
                root = root[:-len('/v1')]
            self._root = root
        return self._root

    def _request(self, method, path, body=None, params=None,
                 min_version=None):
        """One request; ``min_version``: the operation's first version.

        An operation that exists from a microversion on is sent with at
        least that version (it has no older shape to keep), whatever
        version the client was made with.
        """
        url = self._root_url() + path
        kwargs = {'headers': dict(self.headers, Accept='application/json'),
                  'raise_exc': False}
        if min_version is not None:
            kwargs['microversion'] = at_least(self.api_version, min_version)
        if body is not None:
            kwargs['json'] = body
        if params:
            kwargs['params'] = params
        if self.timeout:
            kwargs['timeout'] = self.timeout
        try:
            response = self.adapter.request(url, method, **kwargs)
        except ks_exc.ConnectFailure as exc:
            raise ClientError('cannot reach the nova-drs API at %s: %s'
                              % (self._root, _reason(exc)))
        except ks_exc.ConnectionError as exc:
            raise ClientError('connection to the nova-drs API failed: %s'
                              % exc)
        except ks_exc.ClientException as exc:
            raise ClientError('nova-drs API request failed: %s' % exc)
        if response.status_code >= 400:
            raise _error_from(response)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise ClientError('the nova-drs API sent a response that is '
                              'not JSON', status_code=response.status_code)
        if not isinstance(data, dict):
            raise ClientError('the nova-drs API sent an unexpected response',
                              status_code=response.status_code)
        return data

    def _member(self, data, key):
        if not isinstance(data.get(key), dict):
            raise ClientError('the nova-drs API response has no "%s"' % key)
        return data[key]

    def _list(self, path, key, filters, limit=None, marker=None,
              min_version=None):
        """All items of a list, following the API's "next" links.

        With ``limit``, at most that many items (the API may send fewer
        per page; the next pages are fetched until ``limit`` is reached).
        """
        params = {k: v for k, v in filters.items() if v is not None}
        items = []
        seen = set()
        for _page in range(MAX_PAGES):
            if marker is not None:
                params['marker'] = marker
            if limit is not None:
                params['limit'] = limit - len(items)
            data = self._request('GET', path, params=params,
                                 min_version=min_version)
            page = data.get(key)
            if not isinstance(page, list):
                raise ClientError('the nova-drs API response has no "%s"'
                                  % key)
            items.extend(page)
            link = _next_link(data)
            if not page or not link:
                break
            if limit is not None and len(items) >= limit:
                break
            marker = _marker_of(link)
            if marker is None or marker in seen:
                raise ClientError('the nova-drs API sent a "next" link '
                                  'that does not advance: %s' % link)
            seen.add(marker)
        return items[:limit] if limit is not None else items

    # -- versions ------------------------------------------------------

    def versions(self):
        """``GET /``: the API versions (list of version documents)."""
        data = self._request('GET', '/')
        return data.get('versions', [])

    # -- hosts ---------------------------------------------------------

    def list_hosts(self, hot=None, stale=None, limit=None, marker=None):
        return self._list('/v1/hosts', 'hosts',
                          {'hot': _flag(hot), 'stale': _flag(stale)},
                          limit=limit, marker=marker)

    def get_host(self, host):
        data = self._request('GET', '/v1/hosts/%s' % _quote(host))
        return self._member(data, 'host')

    def set_host_paused(self, host, paused, reason=None):
        """Pause or resume a host's balancing (1.2); returns the host."""
        body = {'paused': bool(paused)}
        if reason is not None:
            body['reason'] = reason
        data = self._request('PATCH', '/v1/hosts/%s' % _quote(host),
                             body=body, min_version=CONTROL_API_VERSION)
        return self._member(data, 'host')

    def evacuate_host(self, host, apply=True):
        """Ask for an evacuation plan; returns the plan request."""
        data = self._request('POST', '/v1/hosts/%s/evacuate' % _quote(host),
                             body={'apply': bool(apply)})
        return self._member(data, 'plan_request')

    # -- instances -----------------------------------------------------

    def get_instance(self, instance_uuid):
        data = self._request('GET', '/v1/instances/%s'
                             % _quote(instance_uuid))
        return self._member(data, 'instance')

    def update_instance(self, instance_uuid, opt_out=UNSET,
                        balloon_floor_mb=UNSET):
        """Change an instance's opt-out and/or balloon floor.

        ``balloon_floor_mb=None`` removes the floor.
        """
        body = {}
        if opt_out is not UNSET:
            body['opt_out'] = bool(opt_out)
        if balloon_floor_mb is not UNSET:
            if balloon_floor_mb is not None and (
                    isinstance(balloon_floor_mb, bool) or
                    not isinstance(balloon_floor_mb, int) or
                    balloon_floor_mb < 0):
                raise ClientError('the balloon floor must be an integer '
                                  '>= 0 (MB), or None to remove it')
            body['balloon_floor_mb'] = balloon_floor_mb
        if not body:
            raise ClientError('nothing to change: give opt_out and/or '
                              'balloon_floor_mb')
        data = self._request('PATCH', '/v1/instances/%s'
                             % _quote(instance_uuid), body=body)
        return self._member(data, 'instance')

    # -- plans ---------------------------------------------------------

    def list_plans(self, state=None, origin=None, limit=None, marker=None):
        return self._list('/v1/plans', 'plans',
                          {'state': state, 'origin': origin},
                          limit=limit, marker=marker)

    def get_plan(self, plan_uuid):
        data = self._request('GET', '/v1/plans/%s' % _quote(plan_uuid))
        return self._member(data, 'plan')

    def create_plan(self, strategy=None):
        """Ask for a dry-run plan; returns the plan request."""
        body = {'strategy': strategy} if strategy else {}
        data = self._request('POST', '/v1/plans', body=body)
        return self._member(data, 'plan_request')

    def apply_plan(self, plan_uuid):
        data = self._request('POST', '/v1/plans/%s/apply'
                             % _quote(plan_uuid))
        return self._plan_of(data)

    def cancel_plan(self, plan_uuid):
        data = self._request('POST', '/v1/plans/%s/cancel'
                             % _quote(plan_uuid))
        return self._plan_of(data)

    def _plan_of(self, data):
        # NOTE: the contract says "200 plan"; accept the plan wrapped in
        # {"plan": ...} (as GET sends it) or bare.
        if isinstance(data.get('plan'), dict):
            return data['plan']
        if 'uuid' in data:
            return data
        raise ClientError('the nova-drs API response has no "plan"')

    # -- plan requests ---------------------------------------------------

    def get_plan_request(self, request_uuid):
        data = self._request('GET', '/v1/plan-requests/%s'
                             % _quote(request_uuid))
        return self._member(data, 'plan_request')

    def wait_for_plan_request(self, request_uuid, timeout=60.0,
                              interval=1.0):
        """Poll a plan request until it is done or failed.

        Returns the final plan request (its ``state`` says which);
        raises :class:`WaitTimeout` when it is still pending after
        ``timeout`` seconds.
        """
        deadline = self._clock() + timeout
        # NOTE: hand-written: a poll for a state at a fixed interval, not a
        # retry (an error is raised at once)
        while True:
            request = self.get_plan_request(request_uuid)
            if request.get('state') in (REQUEST_DONE, REQUEST_FAILED):
                return request
            left = deadline - self._clock()
            if left <= 0:
                raise WaitTimeout(
                    'plan request %s is still %s after %s s' % (
                        request_uuid, request.get('state'), timeout))
            self._sleep(min(interval, left))

    # -- migrations ----------------------------------------------------

    def list_migrations(self, state=None, instance=None, host=None,
                        plan=None, limit=None, marker=None):
        return self._list('/v1/migrations', 'migrations',
                          {'state': state, 'instance': instance,
                           'host': host, 'plan': plan},
                          limit=limit, marker=marker)

    def get_migration(self, migration_uuid):
        data = self._request('GET', '/v1/migrations/%s'
                             % _quote(migration_uuid))
        return self._member(data, 'migration')

    # -- the audit trail (1.3) ------------------------------------------

    def list_events(self, kind=None, object_uuid=None, actor=None,
                    since=None, oldest_first=False, limit=None,
                    marker=None):
        """Audit events, newest first (``oldest_first``: oldest first).

        :param kind: a kind (``plan.applied``) or a prefix ending with a
            dot (``action.``)
        :param since: an ISO 8601 time with a time zone
        """
        return self._list('/v1/events', 'events',
                          {'kind': kind, 'object': object_uuid,
                           'actor': actor, 'since': since,
                           'sort_dir': 'asc' if oldest_first else None},
                          limit=limit, marker=marker,
                          min_version=EVENTS_API_VERSION)

    # -- status --------------------------------------------------------

    def get_status(self):
        data = self._request('GET', '/v1/status')
        return self._member(data, 'status')

    # -- the balancer's settings (1.2) ------------------------------------

    def get_balancer(self):
        """The cluster's mode, pause and paused hosts."""
        data = self._request('GET', '/v1/balancer',
                             min_version=CONTROL_API_VERSION)
        return self._member(data, 'balancer')

    def update_balancer(self, mode=UNSET, paused=None, reason=None):
        """Set the cluster's mode and/or pause; returns the settings.

        ``mode=None`` goes back to each replica's configured mode;
        ``paused`` True pauses automatic balancing, False resumes it.
        """
        body = {}
        if mode is not UNSET:
            body['mode'] = mode
        if paused is not None:
            body['paused'] = bool(paused)
        if not body:
            raise ClientError('nothing to change: give mode and/or paused')
        if reason is not None:
            body['reason'] = reason
        data = self._request('PATCH', '/v1/balancer', body=body,
                             min_version=CONTROL_API_VERSION)
        return self._member(data, 'balancer')


def _flag(value):
    """A tri-state filter as the API's query string wants it."""
    if value is None:
        return None
    return 'true' if value else 'false'
