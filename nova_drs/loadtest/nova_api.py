# SPDX-License-Identifier: Apache-2.0
"""Nova's and Placement's HTTP APIs over a generated region (a scale double).

The load test's balancers talk to Nova and Placement through openstacksdk
and keystoneauth, exactly as in production; only the other end is this
WSGI app, answering from a :class:`~nova_drs.loadtest.region.Region` of
10,000 and more hosts, with Nova's and Placement's JSON shapes (compute
microversion up to :data:`NOVA_MAX_VERSION`, Placement up to
:data:`PLACEMENT_MAX_VERSION`), paging, microversion headers and error
bodies. What it answers is checked against the real Nova lab by the
balancer's functional tests, not here.

URLs carry a free client label first, so that every call is counted per
client (``app.calls``: {client: Counter(kind -> calls)}, one call per
HTTP request, so a listing of N pages counts N; kinds are those of
:data:`COMPUTE_ROUTES` and :data:`PLACEMENT_ROUTES`, with
``servers.changes_since`` and ``servers.host`` for filtered server
listings and ``live_migrate`` for ``os-migrateLive`` actions):

* ``/<client>/compute/`` and ``/<client>/compute/v2.1/...``: Nova;
* ``/<client>/placement/...``: Placement;
* ``/_double/...``: the load test's own view, not counted:
  ``GET calls`` (as ``app.calls``), ``GET requests?from=N`` (the
  live-migration requests from the N-th on, and ``next``), ``GET
  summary``, ``GET placement`` ({host: [server ids]}), ``PUT
  services/<host>`` with ``{"disabled": bool, "reason": str,
  "forced_down": bool}``.

A balancer points at it with ``[drs_nova] auth_type = admin_token``,
``endpoint = <base>/<client>/compute/v2.1``, ``token = <anything>`` and
``[drs_placement] endpoint_override = <base>/<client>/placement``.
Any token is accepted; a request without one gets 401.

Responses are built under the region's lock; the JSON of a server is
kept between listings until the server changes, so 80,000 servers (80
pages, 145 MB) are served in about a second.

Limits: bodies have the shape of the newest microversion the double
serves, whatever is asked, except where nova-drs's clients could tell:
hypervisors before 2.88 carry their sizes, and before 2.34 a live
migration that fails Nova's checks is refused (400) rather than accepted
and failed (its migration record ``error``). Server filters other than
``changes-since`` and ``host`` are ignored; Placement filters other than
``name``, ``uuid`` and ``in_tree`` are refused (400) so that a client
relying on them notices.

Run it in a thread with :func:`serve`, or in its own process with
``python -m nova_drs.loadtest.nova_api --hosts 10000`` (prints its base
URL).
"""

import argparse
import collections
import datetime
import hashlib
import json
import logging
import sys
import threading
import time
import urllib.parse
import uuid

import routes
import webob
from werkzeug import serving

from nova_drs.loadtest import region as region_mod

LOG = logging.getLogger(__name__)

NOVA_MIN_VERSION = (2, 1)
NOVA_MAX_VERSION = (2, 96)
PLACEMENT_MIN_VERSION = (1, 0)
PLACEMENT_MAX_VERSION = (1, 39)
#: Nova's ``[api] max_limit``
MAX_LIMIT = 1000
#: from this compute microversion live migration checks run after the 202
ASYNC_LIVE_MIGRATION = (2, 34)

#: placeholders of the base URLs in cached JSON, replaced per response
NOVA_BASE = '@@nova-base@@'
NOVA_BOOKMARK = '@@nova-bookmark@@'
PLACEMENT_BASE = '@@placement-base@@'

CONTROL_PREFIX = '/_double/'
#: the variables of the routes' paths, passed to the handlers
PATH_ARGS = ('server_id', 'migration_id', 'request_id', 'flavor_id',
             'service_id', 'rp', 'rc')

#: Nova's error body key by HTTP status
NOVA_FAULTS = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
               404: 'itemNotFound', 405: 'badMethod',
               406: 'notAcceptable', 409: 'conflictingRequest',
               500: 'computeFault'}
TITLES = {400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found',
          405: 'Method Not Allowed', 406: 'Not Acceptable',
          409: 'Conflict', 500: 'Internal Server Error'}

#: the non-compute services Nova lists
CONTROL_SERVICES = (('nova-scheduler', 'lt-control'),
                    ('nova-conductor', 'lt-control'))

#: statuses of a server for which Nova shows ``progress``
PROGRESS_STATUSES = ('ACTIVE', 'BUILD', 'REBUILD', 'RESIZE',
                     'VERIFY_RESIZE', 'MIGRATING')


class HTTPError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _iso_z(ts):
    """Nova's ``created``/``updated`` form of a server."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts))


def _iso_micro(ts):
    """Nova's form of other timestamps (naive UTC, microseconds)."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')


def _parse_time(value, name):
    try:
        stamp = datetime.datetime.fromisoformat(value.strip().replace(
            'Z', '+00:00'))
    except ValueError:
        raise HTTPError(400, "Invalid input for query parameters %s. Value: "
                             "%s. '%s' is not a 'date-time'"
                        % (name, value, value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def _version(text, service, min_v, max_v):
    """A microversion string as a tuple; 406 out of range."""
    if text == 'latest':
        return max_v
    try:
        major, minor = (int(p) for p in text.split('.'))
    except ValueError:
        raise HTTPError(400, 'API Version String %s is of invalid format. '
                             'Must be of format MajorNum.MinorNum.' % text)
    if not min_v <= (major, minor) <= max_v:
        raise HTTPError(406, 'Version %s is not supported by the API. '
                             'Minimum is %d.%d and maximum is %d.%d.'
                        % ((text,) + min_v + max_v))
    return major, minor


def _requested_version(req, service, default, min_v, max_v):
    """The microversion a request asks for (Nova's and Placement's)."""
    for part in req.headers.get('OpenStack-API-Version', '').split(','):
        words = part.split()
        if len(words) == 2 and words[0].lower() == service:
            return _version(words[1], service, min_v, max_v)
    if service == 'compute':
        legacy = req.headers.get('X-OpenStack-Nova-API-Version')
        if legacy:
            return _version(legacy.strip(), service, min_v, max_v)
    return default


def _vstr(version):
    return '%d.%d' % version


def _int_param(req, name, default=None, minimum=0):
    value = req.GET.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise HTTPError(400, "Invalid input for query parameters %s. Value: "
                             "%s. '%s' is not a 'integer'"
                        % (name, value, value))
    if number < minimum:
        raise HTTPError(400, "Invalid input for query parameters %s. Value: "
                             "%s. %s is less than the minimum of %d"
                        % (name, value, value, minimum))
    return number


def _limit(req):
    limit = _int_param(req, 'limit')
    return MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)


class _Ctx(object):
    """One request: its client, microversion and base URLs."""

    def __init__(self, req, client, service):
        self.req = req
        self.client = client
        self.service = service
        host = req.host_url
        self.bookmark = '%s/%s/compute' % (host, client)
        self.base = self.bookmark + '/v2.1'
        self.placement = '/%s/placement' % client
        self.version = None

    def next_link(self, collection, marker):
        params = dict(sorted(self.req.GET.items()))
        params['marker'] = marker
        return [{'rel': 'next',
                 'href': '%s/%s?%s' % (self.base, collection,
                                       urllib.parse.urlencode(params))}]

    def fill(self, body):
        """``body`` with the placeholders replaced by this request's URLs."""
        return (body.replace(NOVA_BASE.encode(), self.base.encode())
                .replace(NOVA_BOOKMARK.encode(), self.bookmark.encode())
                .replace(PLACEMENT_BASE.encode(), self.placement.encode()))


def _dumps(obj):
    return json.dumps(obj, separators=(', ', ': ')).encode()


#: (method, path under the client's service root, handler name, kind)
COMPUTE_ROUTES = (
    ('GET', '', 'compute_versions', 'versions'),
    ('GET', '/v2.1', 'compute_version', 'versions'),
    ('GET', '/v2.1/os-services', 'services', 'services'),
    ('PUT', '/v2.1/os-services/{service_id}', 'service_update',
     'service_update'),
    ('GET', '/v2.1/os-aggregates', 'aggregates', 'aggregates'),
    ('GET', '/v2.1/os-hypervisors/detail', 'hypervisors', 'hypervisors'),
    ('GET', '/v2.1/os-hypervisors', 'hypervisors_index', 'hypervisors'),
    ('GET', '/v2.1/servers/detail', 'servers_detail', 'servers'),
    ('POST', '/v2.1/servers', 'server_create', 'server_create'),
    ('GET', '/v2.1/servers/{server_id}', 'server_show', 'server_show'),
    ('DELETE', '/v2.1/servers/{server_id}', 'server_delete',
     'server_delete'),
    ('POST', '/v2.1/servers/{server_id}/action', 'server_action',
     'server_action'),
    ('GET', '/v2.1/servers/{server_id}/migrations', 'server_migrations',
     'server_migrations'),
    ('GET', '/v2.1/servers/{server_id}/migrations/{migration_id}',
     'server_migration', 'server_migrations'),
    ('DELETE', '/v2.1/servers/{server_id}/migrations/{migration_id}',
     'migration_abort', 'migration_abort'),
    ('POST', '/v2.1/servers/{server_id}/migrations/{migration_id}/action',
     'migration_action', 'migration_force_complete'),
    ('GET', '/v2.1/servers/{server_id}/os-instance-actions',
     'instance_actions', 'instance_actions'),
    ('GET', '/v2.1/servers/{server_id}/os-instance-actions/{request_id}',
     'instance_action', 'instance_actions'),
    ('GET', '/v2.1/os-migrations', 'migrations', 'migrations'),
    ('GET', '/v2.1/os-server-groups', 'server_groups', 'server_groups'),
    ('GET', '/v2.1/flavors', 'flavors', 'flavors'),
    ('GET', '/v2.1/flavors/detail', 'flavors_detail', 'flavors'),
    ('GET', '/v2.1/flavors/{flavor_id}', 'flavor_show', 'flavors'),
)
PLACEMENT_ROUTES = (
    ('GET', '', 'placement_versions', 'placement_versions'),
    ('GET', '/resource_providers', 'resource_providers',
     'resource_providers'),
    ('GET', '/resource_providers/{rp}', 'resource_provider',
     'resource_providers'),
    ('GET', '/resource_providers/{rp}/inventories', 'inventories',
     'inventories'),
    ('GET', '/resource_providers/{rp}/inventories/{rc}', 'inventory',
     'inventories'),
    ('GET', '/resource_providers/{rp}/usages', 'usages', 'usages'),
)


class NovaDouble(object):
    """The WSGI app: Nova and Placement over ``region``.

    :attr calls: {client: Counter(kind -> calls)}, every request routed
        (``unknown`` for a path the double does not serve)
    """

    def __init__(self, region):
        self.region = region
        self.calls = collections.defaultdict(collections.Counter)
        self._calls_lock = threading.Lock()
        self._cache = {}
        self._service_ids = {
            binary: str(uuid.uuid5(uuid.NAMESPACE_URL, 'lt/%s' % binary))
            for binary, _ in CONTROL_SERVICES}
        self.mapper = routes.Mapper()
        for service, table in (('compute', COMPUTE_ROUTES),
                               ('placement', PLACEMENT_ROUTES)):
            for method, path, handler, kind in table:
                self.mapper.connect(
                    '/{client}/%s%s' % (service, path), service=service,
                    handler=handler, kind=kind,
                    conditions={'method': [method]})

    # -- bookkeeping --

    def count(self, client, kind):
        with self._calls_lock:
            self.calls[client][kind] += 1

    def calls_snapshot(self):
        """{client: {kind: calls}}, a copy."""
        with self._calls_lock:
            return {c: dict(k) for c, k in self.calls.items()}

    def reset_calls(self):
        with self._calls_lock:
            self.calls.clear()

    def warm(self):
        """Serialise every server now rather than at the first listing."""
        with self.region.lock:
            for server in self.region.servers.values():
                self._server_json(server)

    def _cached(self, key, version, build):
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        body = _dumps(build())
        self._cache[key] = (version, body)
        return body

    # -- WSGI --

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        path = req.path_info
        if path.startswith(CONTROL_PREFIX):
            return self._control(req, start_response)
        if len(path) > 1 and path.endswith('/'):
            path = path.rstrip('/')
        match = self.mapper.match(path, environ=environ)
        client = path.strip('/').split('/', 1)[0] or '-'
        if match is None:
            self.count(client, 'unknown')
            LOG.warning('the Nova double does not serve %s %s',
                        req.method, req.path_qs)
            service = 'placement' if '/placement' in path else 'compute'
            return self._error(start_response, _Ctx(req, client, service),
                               404, 'The resource could not be found.')
        ctx = _Ctx(req, match['client'], match['service'])
        kind = match['kind']
        if kind == 'servers' and 'changes-since' in req.GET:
            kind = 'servers.changes_since'
        elif kind == 'servers' and 'host' in req.GET:
            # the agents' listing of their own host's servers
            kind = 'servers.host'
        elif kind == 'server_action' and b'os-migrateLive' in req.body:
            kind = 'live_migrate'
        self.count(ctx.client, kind)
        headers = []
        try:
            if ctx.service == 'compute':
                ctx.version = _requested_version(
                    req, 'compute', NOVA_MIN_VERSION, NOVA_MIN_VERSION,
                    NOVA_MAX_VERSION)
                v = _vstr(ctx.version)
                headers += [('OpenStack-API-Version', 'compute ' + v),
                            ('X-OpenStack-Nova-API-Version', v),
                            ('Vary', 'OpenStack-API-Version, '
                                     'X-OpenStack-Nova-API-Version')]
            else:
                ctx.version = _requested_version(
                    req, 'placement', PLACEMENT_MIN_VERSION,
                    PLACEMENT_MIN_VERSION, PLACEMENT_MAX_VERSION)
                headers += [('OpenStack-API-Version',
                             'placement ' + _vstr(ctx.version)),
                            ('Vary', 'openstack-api-version')]
            if match['handler'] not in ('compute_versions',
                                        'compute_version',
                                        'placement_versions') and \
                    not req.headers.get('X-Auth-Token'):
                raise HTTPError(401, 'The request you have made requires '
                                     'authentication.')
            handler = getattr(self, match['handler'])
            args = {k: match[k] for k in PATH_ARGS if k in match}
            with self.region.lock:
                self.region.advance()
                status, body = handler(ctx, **args)
                if body is not None:
                    body = ctx.fill(body if isinstance(body, bytes)
                                    else _dumps(body))
        except HTTPError as e:
            return self._error(start_response, ctx, e.code, e.message,
                               headers)
        except region_mod.RegionError as e:
            return self._error(start_response, ctx, e.code, e.message,
                               headers)
        except Exception as e:
            # a bug of the double: say so as Nova would, keep serving
            LOG.exception('the Nova double failed on %s %s', req.method,
                          req.path_qs)
            return self._error(start_response, ctx, 500,
                               'Unexpected API Error: %s' % e, headers)
        return self._respond(start_response, status, body, headers)

    @staticmethod
    def _respond(start_response, status, body, headers=()):
        request_id = 'req-%s' % uuid.uuid4()
        headers = list(headers) + [('x-openstack-request-id', request_id),
                                   ('x-compute-request-id', request_id)]
        if body is None:
            headers.append(('Content-Length', '0'))
            start_response('%d %s' % (status, _reason(status)), headers)
            return [b'']
        headers += [('Content-Type', 'application/json'),
                    ('Content-Length', str(len(body)))]
        start_response('%d %s' % (status, _reason(status)), headers)
        return [body]

    def _error(self, start_response, ctx, code, message, headers=()):
        if ctx.service == 'placement':
            body = {'errors': [{'status': code,
                                'title': TITLES.get(code, 'Error'),
                                'detail': message,
                                'request_id': 'req-%s' % uuid.uuid4()}]}
        else:
            body = {NOVA_FAULTS.get(code, 'computeFault'):
                    {'code': code, 'message': message}}
        return self._respond(start_response, code, _dumps(body), headers)

    # -- compute: versions --

    def _version_doc(self, ctx):
        return {'id': 'v2.1', 'status': 'CURRENT',
                'version': _vstr(NOVA_MAX_VERSION),
                'min_version': _vstr(NOVA_MIN_VERSION),
                'updated': '2013-07-23T11:33:21Z',
                'links': [{'rel': 'self', 'href': ctx.base + '/'},
                          {'rel': 'describedby', 'type': 'text/html',
                           'href': 'http://docs.openstack.org/'}],
                'media-types': [{
                    'base': 'application/json',
                    'type': 'application/vnd.openstack.compute+json;'
                            'version=2.1'}]}

    def compute_versions(self, ctx):
        v20 = {'id': 'v2.0', 'status': 'DEPRECATED', 'version': '',
               'min_version': '', 'updated': '2025-07-04T12:00:00Z',
               'links': [{'rel': 'self', 'href': ctx.bookmark + '/v2/'}]}
        return 200, {'versions': [v20, self._version_doc(ctx)]}

    def compute_version(self, ctx):
        return 200, {'version': self._version_doc(ctx)}

    # -- compute: services, aggregates, hypervisors --

    def _service_dict(self, host):
        return {'id': host.service_id, 'binary': 'nova-compute',
                'host': host.name, 'zone': host.zone, 'status': host.status,
                'state': host.state, 'disabled_reason': host.disabled_reason,
                'forced_down': host.forced_down,
                'updated_at': _iso_micro(host.service_updated)}

    def _control_services(self):
        now = _iso_micro(self.region.generated_at)
        return [{'id': self._service_ids[binary], 'binary': binary,
                 'host': host, 'zone': 'internal', 'status': 'enabled',
                 'state': 'up', 'disabled_reason': None,
                 'forced_down': False, 'updated_at': now}
                for binary, host in CONTROL_SERVICES]

    def services(self, ctx):
        binary = ctx.req.GET.get('binary')
        host = ctx.req.GET.get('host')
        out = []
        if binary in (None, 'nova-compute'):
            hosts = self.region.hosts
            if host is not None:
                hosts = [h for h in hosts if h.name == host]
            out = [self._service_dict(h) for h in hosts]
        out += [s for s in self._control_services()
                if binary in (None, s['binary'])
                and host in (None, s['host'])]
        return 200, {'services': out}

    def service_update(self, ctx, service_id):
        if service_id in self._service_ids.values():
            raise HTTPError(400, 'Updating a %s service is not supported by '
                                 'the double' % service_id)
        host = self.region.service(service_id)
        body = _json_body(ctx.req)
        status = body.get('status')
        if status not in (None, 'enabled', 'disabled'):
            raise HTTPError(400, "Invalid input for field/attribute status. "
                                 "Value: %s." % status)
        reason = body.get('disabled_reason')
        if reason and status != 'disabled':
            raise HTTPError(400, 'Specifying a disabled_reason is only '
                                 'supported when the status is disabled.')
        if status is None and 'forced_down' not in body:
            raise HTTPError(400, "At least one of 'status' or 'forced_down' "
                                 "must be specified in the request body.")
        self.region.set_service_status(
            host.name, disabled=None if status is None
            else status == 'disabled', reason=reason,
            forced_down=body.get('forced_down'))
        return 200, {'service': self._service_dict(host)}

    def aggregates(self, ctx):
        out = []
        for agg in self.region.aggregates:
            out.append((self._cached(
                ('aggregate', agg.id), len(agg.hosts),
                lambda agg=agg: {
                    'id': agg.id, 'uuid': agg.uuid, 'name': agg.name,
                    'availability_zone': agg.zone,
                    'metadata': {'availability_zone': agg.zone},
                    'hosts': list(agg.hosts),
                    'created_at': _iso_micro(agg.created),
                    'updated_at': None, 'deleted_at': None,
                    'deleted': False})))
        return 200, _collection('aggregates', out)

    def _hypervisor(self, host, detail, version):
        """A hypervisor (compute node) as Nova shows it at ``version``."""
        key = (host.status, host.state, host.disabled_reason, detail)
        if not detail:
            return self._cached(('hv-index', host.index), key, lambda: {
                'id': host.rp_uuid, 'hypervisor_hostname': host.name,
                'state': host.state, 'status': host.status})
        if version >= (2, 88):
            return self._cached(('hv', host.index), key, lambda: dict(
                self._hypervisor_detail(host),
                uptime=' 09:00:00 up 42 days,  1:00,  0 users,  load '
                       'average: 0.50, 0.50, 0.50'))
        # sizes and usage, which 2.88 removed (not cached: they change)
        used = host.used
        memory_used = used['MEMORY_MB'] + host.reserved_memory_mb
        return _dumps(dict(
            self._hypervisor_detail(host), vcpus=host.vcpus,
            vcpus_used=used['VCPU'], memory_mb=host.memory_mb,
            memory_mb_used=memory_used,
            free_ram_mb=host.memory_mb - memory_used,
            local_gb=host.disk_gb, local_gb_used=used['DISK_GB'],
            free_disk_gb=host.disk_gb - used['DISK_GB'],
            disk_available_least=host.disk_gb - used['DISK_GB'],
            current_workload=0, running_vms=len(host.servers),
            cpu_info={}))

    @staticmethod
    def _hypervisor_detail(host):
        return {'id': host.rp_uuid, 'hypervisor_hostname': host.name,
                'state': host.state, 'status': host.status,
                'hypervisor_type': 'QEMU', 'hypervisor_version': 8002000,
                'host_ip': host.host_ip,
                'service': {'host': host.name, 'id': host.service_id,
                            'disabled_reason': host.disabled_reason}}

    def _hypervisor_list(self, ctx, detail):
        limit = _limit(ctx.req)
        page, full = self.region.list_hypervisors(
            ctx.req.GET.get('marker'), limit)
        items = [self._hypervisor(h, detail, ctx.version) for h in page]
        links = None
        if full and page:
            links = ctx.next_link('os-hypervisors/detail' if detail
                                  else 'os-hypervisors', page[-1].rp_uuid)
        return 200, _collection('hypervisors', items, links)

    def hypervisors(self, ctx):
        return self._hypervisor_list(ctx, True)

    def hypervisors_index(self, ctx):
        return self._hypervisor_list(ctx, False)

    # -- compute: servers --

    def _server_json(self, server):
        host = self.region.host_by_name.get(server.host)
        key = (server.rev, host.status if host else None,
               host.forced_down if host else None)
        return self._cached(('server', server.id), key,
                            lambda: self._server_dict(server, host))

    @staticmethod
    def _host_status(host):
        if host is None:
            return ''
        if host.forced_down:
            return 'DOWN'
        if host.status == 'disabled':
            return 'MAINTENANCE'
        return 'UP'

    def _server_dict(self, s, host):
        flavor = s.flavor
        launched = datetime.datetime.fromtimestamp(
            s.created, datetime.timezone.utc).replace(tzinfo=None)
        out = {
            'id': s.id, 'name': s.name, 'status': s.status,
            'tenant_id': s.project_id, 'user_id': s.user_id,
            'metadata': dict(s.metadata),
            'hostId': hashlib.sha224(
                (s.project_id + s.host).encode()).hexdigest()
            if s.host else '',
            'image': {'id': region_mod.IMAGE_ID, 'links': [{
                'rel': 'bookmark', 'href': '%s/images/%s'
                % (NOVA_BOOKMARK, region_mod.IMAGE_ID)}]},
            'flavor': {'vcpus': flavor.vcpus, 'ram': flavor.ram,
                       'disk': flavor.disk, 'ephemeral': 0, 'swap': 0,
                       'original_name': flavor.name, 'extra_specs': {}},
            'created': _iso_z(s.created), 'updated': _iso_z(s.updated),
            'addresses': {}, 'accessIPv4': '', 'accessIPv6': '',
            'links': [{'rel': 'self',
                       'href': '%s/servers/%s' % (NOVA_BASE, s.id)},
                      {'rel': 'bookmark',
                       'href': '%s/servers/%s' % (NOVA_BOOKMARK, s.id)}],
            'OS-DCF:diskConfig': 'MANUAL',
            'OS-EXT-AZ:availability_zone': s.zone or '',
            'config_drive': '', 'key_name': None,
            'OS-SRV-USG:launched_at': str(launched),
            'OS-SRV-USG:terminated_at': (str(datetime.datetime.fromtimestamp(
                s.updated, datetime.timezone.utc).replace(tzinfo=None))
                if s.deleted else None),
            'OS-EXT-SRV-ATTR:host': s.host,
            'OS-EXT-SRV-ATTR:instance_name': 'instance-%08x' % (s.index + 1),
            'OS-EXT-SRV-ATTR:hypervisor_hostname': s.host,
            'OS-EXT-SRV-ATTR:hostname': s.name,
            'OS-EXT-SRV-ATTR:kernel_id': '',
            'OS-EXT-SRV-ATTR:launch_index': 0,
            'OS-EXT-SRV-ATTR:ramdisk_id': '',
            'OS-EXT-SRV-ATTR:reservation_id': 'r-%08x' % (s.index + 1),
            'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
            'OS-EXT-STS:task_state': s.task_state,
            'OS-EXT-STS:vm_state': s.vm_state,
            'OS-EXT-STS:power_state': 0 if s.deleted else s.power_state,
            'os-extended-volumes:volumes_attached': [],
            'locked': False, 'locked_reason': None,
            'host_status': self._host_status(host),
            'description': None, 'tags': [],
            'trusted_image_certificates': None,
            'pinned_availability_zone': None}
        if s.status in PROGRESS_STATUSES:
            out['progress'] = 0
        return out

    def servers_detail(self, ctx):
        req = ctx.req
        limit = _limit(req)
        since = req.GET.get('changes-since')
        since = _parse_time(since, 'changes-since') if since else None
        host = req.GET.get('host')
        if host is not None:
            # a filter only admins may use; few servers, no paging
            on = sorted((self.region.servers[s] for s in
                         self.region.host_by_name[host].servers)
                        if host in self.region.host_by_name else (),
                        key=lambda s: -s.index)
            return 200, _collection(
                'servers', [self._server_json(s) for s in on])
        page, full = self.region.list_servers(
            changes_since=since, marker=req.GET.get('marker'), limit=limit)
        items = [self._server_json(s) for s in page]
        links = None
        if full and page:
            links = ctx.next_link('servers/detail', page[-1].id)
        return 200, _collection('servers', items, links)

    def server_show(self, ctx, server_id):
        server = self.region.server(server_id)
        body = self._server_json(server)
        if ctx.version >= (2, 71):
            extra = _dumps([server.group] if server.group else [])
            body = body[:-1] + b', "server_groups": ' + extra + b'}'
        return 200, b'{"server": ' + body + b'}'

    def server_create(self, ctx):
        body = _json_body(ctx.req).get('server') or {}
        flavor_ref = str(body.get('flavorRef', '')).rsplit('/', 1)[-1]
        host = body.get('host')
        zone = body.get('availability_zone') or ''
        if not host and ':' in zone:
            host = zone.split(':', 1)[1] or None
        server = self.region.create_server(flavor_ref, host=host,
                                           name=body.get('name'))
        return 202, {'server': {
            'id': server.id, 'OS-DCF:diskConfig': 'MANUAL',
            'links': [{'rel': 'self',
                       'href': '%s/servers/%s' % (NOVA_BASE, server.id)},
                      {'rel': 'bookmark', 'href': '%s/servers/%s'
                       % (NOVA_BOOKMARK, server.id)}],
            'security_groups': [{'name': 'default'}],
            'adminPass': 'lt-%s' % server.id[:8]}}

    def server_delete(self, ctx, server_id):
        self.region.delete_server(server_id)
        return 204, None

    def server_action(self, ctx, server_id):
        body = _json_body(ctx.req)
        if 'os-migrateLive' in body:
            args = body['os-migrateLive'] or {}
            if ctx.version < (2, 25) and 'disk_over_commit' not in args:
                raise HTTPError(400, "Invalid input for field/attribute "
                                     "os-migrateLive. Value: %s. "
                                     "'disk_over_commit' is a required "
                                     "property" % args)
            if 'block_migration' not in args:
                raise HTTPError(400, "Invalid input for field/attribute "
                                     "os-migrateLive. 'block_migration' is "
                                     "a required property")
            force = bool(args.get('force')) if ctx.version >= (2, 30) \
                else bool(args.get('host'))
            self.region.live_migrate(
                server_id, host=args.get('host') or None, client=ctx.client,
                force=force, async_=ctx.version >= ASYNC_LIVE_MIGRATION)
            return 202, None
        self.region.server(server_id)
        raise HTTPError(400, 'The Nova double does not serve the server '
                             'action(s) %s' % ', '.join(sorted(body)))

    # -- compute: migrations --

    def _migration_dict(self, m, server_view):
        out = {'id': m.id, 'uuid': m.uuid, 'source_compute': m.source,
               'dest_compute': m.dest, 'source_node': m.source,
               'dest_node': m.dest,
               'dest_host': (self.region.host_by_name[m.dest].host_ip
                             if m.dest else None),
               'status': m.status, 'created_at': _iso_micro(m.created),
               'updated_at': _iso_micro(m.updated),
               'project_id': m.project_id, 'user_id': m.user_id}
        if server_view:
            out.update(server_uuid=m.server_id, memory_total_bytes=0,
                       memory_processed_bytes=0, memory_remaining_bytes=0,
                       disk_total_bytes=0, disk_processed_bytes=0,
                       disk_remaining_bytes=0)
            return out
        out.update(instance_uuid=m.server_id, migration_type=m.migration_type,
                   old_instance_type_id=int(m.flavor_id),
                   new_instance_type_id=int(m.flavor_id))
        if m.status in region_mod.IN_PROGRESS and \
                m.migration_type == region_mod.LIVE_MIGRATION:
            path = 'servers/%s/migrations/%d' % (m.server_id, m.id)
            out['links'] = [
                {'rel': 'self', 'href': '%s/%s' % (NOVA_BASE, path)},
                {'rel': 'bookmark', 'href': '%s/%s' % (NOVA_BOOKMARK, path)}]
        return out

    def migrations(self, ctx):
        get = ctx.req.GET.get
        since, before = get('changes-since'), get('changes-before')
        page, full = self.region.list_migrations(
            server_id=get('instance_uuid'),
            migration_type=get('migration_type'), status=get('status'),
            source_compute=get('source_compute'), host=get('host'),
            changes_since=_parse_time(since, 'changes-since')
            if since else None,
            changes_before=_parse_time(before, 'changes-before')
            if before else None,
            marker=get('marker'), limit=_limit(ctx.req))
        links = None
        if full and page:
            links = ctx.next_link('os-migrations', page[-1].uuid)
        return 200, _collection(
            'migrations', [self._migration_dict(m, False) for m in page],
            links)

    def server_migrations(self, ctx, server_id):
        return 200, {'migrations': [
            self._migration_dict(m, True)
            for m in self.region.server_migrations(server_id)]}

    def _migration_id(self, migration_id):
        try:
            return int(migration_id)
        except ValueError:
            raise HTTPError(404, 'Migration %s could not be found.'
                            % migration_id)

    def server_migration(self, ctx, server_id, migration_id):
        m = self.region.server_migration(server_id,
                                         self._migration_id(migration_id))
        if m.status not in region_mod.IN_PROGRESS:
            raise HTTPError(404, 'Migration %s not found for instance %s.'
                            % (migration_id, server_id))
        return 200, {'migration': self._migration_dict(m, True)}

    def migration_abort(self, ctx, server_id, migration_id):
        self.region.abort_migration(server_id,
                                    self._migration_id(migration_id))
        return 202, None

    def migration_action(self, ctx, server_id, migration_id):
        body = _json_body(ctx.req)
        if 'force_complete' not in body:
            raise HTTPError(400, 'Only force_complete is a migration action')
        self.region.force_complete(server_id,
                                   self._migration_id(migration_id))
        return 202, None

    def _action_dict(self, action, events):
        out = {'action': action.action, 'instance_uuid': action.server_id,
               'message': action.message, 'project_id': action.project_id,
               'request_id': action.request_id,
               'start_time': _iso_micro(action.start),
               'updated_at': _iso_micro(action.updated),
               'user_id': action.user_id}
        if events:
            out['events'] = [{
                'event': e['event'], 'start_time': _iso_micro(e['start']),
                'finish_time': _iso_micro(e['finish']), 'result': e['result'],
                'traceback': None, 'host': e['host'],
                'hostId': (hashlib.sha224((action.project_id + e['host'])
                                          .encode()).hexdigest()
                           if e['host'] else ''),
                'details': e['details']} for e in action.events]
        return out

    def instance_actions(self, ctx, server_id):
        return 200, {'instanceActions': [
            self._action_dict(a, False)
            for a in self.region.server_actions(server_id)]}

    def instance_action(self, ctx, server_id, request_id):
        return 200, {'instanceAction': self._action_dict(
            self.region.server_action(server_id, request_id), True)}

    # -- compute: groups and flavors --

    def server_groups(self, ctx):
        offset = _int_param(ctx.req, 'offset', 0)
        limit = _limit(ctx.req) or MAX_LIMIT
        groups = self.region.groups
        if not _truthy(ctx.req.GET.get('all_projects')):
            project = ctx.req.GET.get('project_id')
            groups = [g for g in groups if g.project_id == project]
        return 200, {'server_groups': [
            {'id': g.id, 'name': g.name, 'policy': g.policy,
             'rules': dict(g.rules), 'members': list(g.members),
             'project_id': g.project_id, 'user_id': g.user_id}
            for g in groups[offset:offset + limit]]}

    @staticmethod
    def _flavor_dict(f, detail=True):
        links = [{'rel': 'self', 'href': '%s/flavors/%s' % (NOVA_BASE, f.id)},
                 {'rel': 'bookmark',
                  'href': '%s/flavors/%s' % (NOVA_BOOKMARK, f.id)}]
        if not detail:
            return {'id': f.id, 'name': f.name, 'links': links,
                    'description': None}
        return {'id': f.id, 'name': f.name, 'vcpus': f.vcpus, 'ram': f.ram,
                'disk': f.disk, 'swap': 0, 'OS-FLV-EXT-DATA:ephemeral': 0,
                'OS-FLV-DISABLED:disabled': False, 'rxtx_factor': 1.0,
                'os-flavor-access:is_public': True, 'description': None,
                'extra_specs': {}, 'links': links}

    def flavors(self, ctx):
        return 200, {'flavors': [self._flavor_dict(f, False)
                                 for f in self.region.flavors.values()]}

    def flavors_detail(self, ctx):
        return 200, {'flavors': [self._flavor_dict(f)
                                 for f in self.region.flavors.values()]}

    def flavor_show(self, ctx, flavor_id):
        flavor = self.region.flavors.get(flavor_id)
        if flavor is None:
            raise HTTPError(404, 'Flavor %s could not be found.' % flavor_id)
        return 200, {'flavor': self._flavor_dict(flavor)}

    # -- placement --

    def placement_versions(self, ctx):
        return 200, {'versions': [{
            'id': 'v%s' % _vstr(PLACEMENT_MIN_VERSION),
            'min_version': _vstr(PLACEMENT_MIN_VERSION),
            'max_version': _vstr(PLACEMENT_MAX_VERSION),
            'status': 'CURRENT', 'links': [{'rel': 'self', 'href': ''}]}]}

    def _provider(self, host, version):
        def build():
            url = '%s/resource_providers/%s' % (PLACEMENT_BASE, host.rp_uuid)
            rels = ['inventories', 'usages']
            if version >= (1, 1):
                rels.append('aggregates')
            if version >= (1, 6):
                rels.append('traits')
            if version >= (1, 11):
                rels.append('allocations')
            out = {'uuid': host.rp_uuid, 'name': host.name,
                   'generation': host.generation,
                   'links': [{'rel': 'self', 'href': url}] + [
                       {'rel': r, 'href': '%s/%s' % (url, r)} for r in rels]}
            if version >= (1, 14):
                out['parent_provider_uuid'] = None
                out['root_provider_uuid'] = host.rp_uuid
            return out
        shape = (version >= (1, 1), version >= (1, 6), version >= (1, 11),
                 version >= (1, 14))
        return self._cached(('rp', host.index), (host.generation, shape),
                            build)

    def resource_providers(self, ctx):
        params = dict(ctx.req.GET)
        unsupported = set(params) - {'name', 'uuid', 'in_tree'}
        if unsupported:
            raise HTTPError(400, 'The Nova double does not filter resource '
                                 'providers by %s'
                            % ', '.join(sorted(unsupported)))
        hosts = self.region.hosts
        if 'name' in params:
            hosts = [h for h in hosts if h.name == params['name']]
        for key in ('uuid', 'in_tree'):
            if key in params:
                hosts = [h for h in hosts if h.rp_uuid == params[key]]
        return 200, _collection(
            'resource_providers',
            [self._provider(h, ctx.version) for h in hosts])

    def resource_provider(self, ctx, rp):
        return 200, self._provider(self.region.provider(rp), ctx.version)

    def inventories(self, ctx, rp):
        host = self.region.provider(rp)
        return 200, {'inventories': host.inventories(),
                     'resource_provider_generation': host.generation}

    def inventory(self, ctx, rp, rc):
        host = self.region.provider(rp)
        inventory = host.inventories().get(rc)
        if inventory is None:
            raise HTTPError(404, 'No inventory of class %s found for '
                                 'resource provider %s' % (rc, rp))
        return 200, dict(inventory,
                         resource_provider_generation=host.generation)

    def usages(self, ctx, rp):
        host = self.region.provider(rp)
        return 200, {'usages': dict(host.used),
                     'resource_provider_generation': host.generation}

    # -- the load test's own view --

    def _control(self, req, start_response):
        what = req.path_info[len(CONTROL_PREFIX):].strip('/')
        ctx = _Ctx(req, '_double', 'compute')
        region = self.region
        try:
            if req.method == 'GET' and what == 'calls':
                body = self.calls_snapshot()
            elif req.method == 'GET' and what == 'requests':
                start = _int_param(req, 'from', 0)
                with region.lock:
                    body = {'requests': [r.as_dict() for r in
                                         region.requests[start:]],
                            'next': len(region.requests)}
            elif req.method == 'GET' and what == 'summary':
                body = region.summary()
            elif req.method == 'GET' and what == 'placement':
                body = region.placement()
            elif req.method == 'PUT' and what.startswith('services/'):
                args = _json_body(req)
                host = region.set_service_status(
                    what.split('/', 1)[1], disabled=args.get('disabled'),
                    reason=args.get('reason'),
                    forced_down=args.get('forced_down'))
                body = {'host': host.name, 'status': host.status,
                        'state': host.state}
            else:
                raise HTTPError(404, 'no such control call: %s %s'
                                % (req.method, req.path_info))
        except (HTTPError, region_mod.RegionError) as e:
            return self._error(start_response, ctx, e.code, e.message)
        return self._respond(start_response, 200, _dumps(body))


def _reason(status):
    return {200: 'OK', 202: 'Accepted', 204: 'No Content'}.get(
        status, TITLES.get(status, 'Error'))


def _truthy(value):
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on')


def _json_body(req):
    if not req.body:
        return {}
    try:
        body = json.loads(req.body)
    except ValueError:
        raise HTTPError(400, 'Malformed request body')
    if not isinstance(body, dict):
        raise HTTPError(400, 'Malformed request body')
    return body


def _collection(key, items, links=None):
    """``{"key": [items...], "key_links": [...]}`` as bytes.

    ``items`` are dicts or already serialised JSON (:class:`_Raw`).
    """
    parts = [i if isinstance(i, bytes) else _dumps(i) for i in items]
    body = b'{"' + key.encode() + b'": [' + b', '.join(parts) + b']'
    if links:
        body += b', "' + key.encode() + b'_links": ' + _dumps(links)
    return body + b'}'


class _QuietHandler(serving.WSGIRequestHandler):
    """No line per request on stderr (thousands per second)."""

    def log_request(self, *args, **kwargs):
        pass


class Served(object):
    """A :class:`NovaDouble` served in a thread (stop: :meth:`shutdown`)."""

    def __init__(self, app, server, thread, base_url):
        self.app = app
        self.region = app.region
        self.server = server
        self.thread = thread
        self.base_url = base_url

    def shutdown(self):
        """Stop serving and close the socket (waits for the thread)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(30)


def serve(region, host='127.0.0.1', port=0, app=None):
    """Serve ``region`` in a daemon thread; (Served, base URL).

    The base URL has no client label: a balancer's compute endpoint is
    ``<base>/<client>/compute/v2.1``. Requests are served in threads with
    HTTP keep-alive (werkzeug's threaded server).
    """
    app = app or NovaDouble(region)
    server = serving.make_server(host, port, app, threaded=True,
                                 request_handler=_QuietHandler)
    base_url = 'http://%s:%d' % (host, server.server_port)
    thread = threading.Thread(target=server.serve_forever,
                              name='nova-double', daemon=True)
    thread.start()
    return Served(app, server, thread, base_url), base_url


def client_config(base_url, client, token='loadtest'):  # nosec B107
    """The ``[drs_nova]``/``[drs_placement]`` settings for one client."""
    return ('[drs_nova]\nauth_type = admin_token\n'
            'endpoint = %(base)s/%(client)s/compute/v2.1\n'
            'token = %(token)s\n\n'
            '[drs_placement]\n'
            'endpoint_override = %(base)s/%(client)s/placement\n'
            % {'base': base_url, 'client': client, 'token': token})


def main(argv=None):
    """Serve a generated region until interrupted (load test's process)."""
    parser = argparse.ArgumentParser(
        description='Nova and Placement APIs over a generated region')
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--instances-per-host', type=int, default=8)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--zones', type=int, default=2)
    parser.add_argument('--migration-seconds', type=float, default=2.0)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    region = region_mod.Region.generate(
        args.hosts, instances_per_host=args.instances_per_host,
        seed=args.seed, zones=args.zones,
        migration_seconds=args.migration_seconds)
    app = NovaDouble(region)
    app.warm()
    served, base_url = serve(region, args.host, args.port, app)
    print(json.dumps({'base_url': base_url,
                      'ready_in_s': round(time.monotonic() - started, 2),
                      **region.summary()}), flush=True)
    try:
        while served.thread.is_alive():
            served.thread.join(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        served.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
