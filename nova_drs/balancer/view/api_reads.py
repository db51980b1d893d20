# SPDX-License-Identifier: Apache-2.0
"""Nova and Placement listings read as JSON, not as sdk resources.

openstacksdk builds a full resource object for every item it lists: some
2.6 ms of CPU per server on the test machine, and as much per compute
service or resource provider. At region scale that is minutes of CPU per
replica for a full read of 80,000 servers, and half a minute for every
incremental read of 10,000 services and providers (measured through the
load test's region double, doc/source/loadtest.rst). The balancer needs
a few fields of each. It therefore sends the requests through the sdk's
own adapters (``conn.compute``, ``conn.placement``: same session,
authentication, endpoint, timeouts and retries as every other call),
pages as Nova pages (``servers_links``, ``marker``), and keeps each
item's JSON behind a small class with the sdk resource's attribute names
that :mod:`nova_drs.balancer.view.nova_view` reads.
"""

from concurrent import futures
import urllib.parse

from openstack import exceptions as sdk_exc

#: the embedded flavor (vCPUs, RAM) in each server
MICROVERSION = '2.47'

#: services with ``forced_down`` (2.11) and uuids as ids (2.53)
SERVICES_MICROVERSION = '2.53'

#: servers per page: Nova's default ``[api] max_limit``; Nova answers with
#: fewer (and a next link) when its own limit is lower
PAGE_SIZE = 1000

#: nothing, for the fields a server's JSON lacks
_MISSING = object()


class ListedServer:
    """One server of a listing, with the sdk ``Server``'s field names."""

    __slots__ = ('_doc',)

    def __init__(self, doc):
        self._doc = doc

    def _field(self, key, default=None):
        value = self._doc.get(key, _MISSING)
        return default if value is _MISSING else value

    @property
    def id(self):
        return self._doc.get('id')

    @property
    def name(self):
        return self._doc.get('name')

    @property
    def status(self):
        return self._doc.get('status')

    @property
    def compute_host(self):
        return self._doc.get('OS-EXT-SRV-ATTR:host')

    @property
    def task_state(self):
        return self._doc.get('OS-EXT-STS:task_state')

    @property
    def project_id(self):
        return self._doc.get('tenant_id')

    @property
    def flavor(self):
        return self._field('flavor', {})

    @property
    def metadata(self):
        return self._field('metadata', {})

    @property
    def updated_at(self):
        return self._doc.get('updated')


class ListedService:
    """A compute service (``/os-services``), with the sdk's field names."""

    __slots__ = ('id', 'host', 'status', 'state', 'is_forced_down',
                 'disabled_reason', 'availability_zone')

    def __init__(self, doc):
        self.id = doc.get('id')
        self.host = doc.get('host')
        self.status = doc.get('status')
        self.state = doc.get('state')
        self.is_forced_down = bool(doc.get('forced_down'))
        self.disabled_reason = doc.get('disabled_reason')
        self.availability_zone = doc.get('zone')


class ListedProvider:
    """A resource provider (``/resource_providers``)."""

    __slots__ = ('id', 'name', 'generation')

    def __init__(self, doc):
        self.id = doc.get('uuid')
        self.name = doc.get('name')
        self.generation = doc.get('generation')


def list_services(compute, binary='nova-compute'):
    """Every compute service (``GET /os-services``), as ListedService.

    :raises openstack.exceptions.SDKException: Nova answered an error
    """
    response = compute.get('/os-services', params={'binary': binary},
                           microversion=SERVICES_MICROVERSION)
    sdk_exc.raise_from_response(response,
                                error_message='cannot list the services')
    return [ListedService(doc) for doc in
            response.json().get('services') or ()]


def list_providers(placement):
    """Every resource provider (``GET /resource_providers``).

    :raises openstack.exceptions.SDKException: Placement answered an error
    """
    response = placement.get('/resource_providers')
    sdk_exc.raise_from_response(
        response, error_message='cannot list the resource providers')
    return [ListedProvider(doc) for doc in
            response.json().get('resource_providers') or ()]


def _next_marker(body, links='servers_links'):
    """The ``marker`` of the next page's link, or None (last page).

    Only the marker is taken from the link: Nova builds its links from its
    own idea of its URL, which behind a proxy need not be the endpoint
    the balancer uses.
    """
    for link in body.get(links) or ():
        if link.get('rel') == 'next':
            query = urllib.parse.urlparse(link.get('href', '')).query
            markers = urllib.parse.parse_qs(query).get('marker')
            if markers:
                return markers[-1]
    return None


def _pages(compute, url, key, params, microversion, what, on_page):
    """Yield the items of every page of a Nova listing (its JSON docs).

    :param on_page: called before each request (the caller counts them)
    """
    params = dict(params, limit=PAGE_SIZE)
    seen = set()
    while True:
        if on_page is not None:
            on_page()
        response = compute.get(url, params=params, microversion=microversion)
        sdk_exc.raise_from_response(response,
                                    error_message='cannot list %s' % what)
        body = response.json()
        yield from body.get(key) or ()
        marker = _next_marker(body, key + '_links')
        if marker is None or marker in seen:
            # NOTE: a marker seen before would loop forever
            return
        seen.add(marker)
        params = dict(params, marker=marker)


def list_servers(compute, changes_since=None, on_page=None):
    """Yield every server of every project as a :class:`ListedServer`.

    :param compute: the sdk's compute proxy (``conn.compute``)
    :param changes_since: ISO 8601 time: only the servers changed since,
        deleted ones included (status ``DELETED``), as Nova lists them
    :param on_page: called before the request of each page
    :raises openstack.exceptions.SDKException: Nova answered an error
    :raises keystoneauth1.exceptions.ClientException: Nova could not be
        reached
    """
    params = {'all_tenants': 'True'}
    if changes_since is not None:
        params['changes-since'] = changes_since
    for doc in _pages(compute, '/servers/detail', 'servers', params,
                      MICROVERSION, 'servers', on_page):
        yield ListedServer(doc)


class ListedHypervisor:
    """A compute node (``/os-hypervisors/detail``), sdk field names."""

    __slots__ = ('id', 'name', 'service_details')

    def __init__(self, doc):
        self.id = doc.get('id')
        self.name = doc.get('hypervisor_hostname')
        self.service_details = doc.get('service') or {}


def list_hypervisors(compute, on_page=None):
    """Every compute node (``GET /os-hypervisors/detail``, paged).

    Microversion 2.53: ids are the compute nodes' uuids (their resource
    providers' uuids), and paging by ``marker`` (2.33).

    :param on_page: called before the request of each page
    :raises openstack.exceptions.SDKException: Nova answered an error
    """
    return [ListedHypervisor(doc) for doc in _pages(
        compute, '/os-hypervisors/detail', 'hypervisors', {},
        SERVICES_MICROVERSION, 'hypervisors', on_page)]


class ListedInventory:
    """One resource class of a provider's inventory (sdk field names)."""

    __slots__ = ('resource_class', 'total', 'reserved', 'allocation_ratio',
                 'resource_provider_generation')

    def __init__(self, resource_class, doc, generation):
        self.resource_class = resource_class
        self.total = doc.get('total')
        self.reserved = doc.get('reserved', 0)
        self.allocation_ratio = doc.get('allocation_ratio', 1.0)
        self.resource_provider_generation = generation


def provider_inventories(placement, rp_uuid):
    """``GET /resource_providers/{uuid}/inventories``: [ListedInventory].

    Placement has no request for every provider's inventories at once;
    this one costs a round trip, not the sdk's resource objects.

    :raises openstack.exceptions.SDKException: Placement answered an error
    """
    response = placement.get('/resource_providers/%s/inventories'
                             % urllib.parse.quote(rp_uuid, safe=''))
    sdk_exc.raise_from_response(
        response, error_message='cannot read the inventories of %s'
        % rp_uuid)
    body = response.json()
    generation = body.get('resource_provider_generation')
    return [ListedInventory(rc, doc or {}, generation)
            for rc, doc in (body.get('inventories') or {}).items()]


def _inventories_or_none(placement, rp_uuid):
    """:func:`provider_inventories`, or None when the provider is gone."""
    try:
        return provider_inventories(placement, rp_uuid)
    except sdk_exc.NotFoundException:
        # NOTE: deleted since the listing (a compute node removed during
        # a full read, which takes a minute at region scale): the read
        # goes on without it, as it would had the listing come later
        return None


def providers_inventories(placement, rp_uuids, concurrency=1):
    """The inventories of several providers, ``concurrency`` at a time.

    One ``GET /resource_providers/{uuid}/inventories`` per provider
    (Placement has none for several), made in up to ``concurrency``
    threads that share ``placement`` (a keystoneauth adapter: each
    request is independent, with the session's timeout and retries);
    with 1, or a single provider, one after the other in the caller's
    thread.

    :returns: for each uuid, in the order given, its [ListedInventory],
        or None when Placement answered 404 (the provider was deleted
        since it was listed)
    :raises openstack.exceptions.SDKException: another error answered by
        Placement: of the requests that failed, the one of the first
        provider in ``rp_uuids``, as one after the other would raise;
        the requests not started yet are not made (at most
        ``concurrency`` were under way), and no thread is left running
    :raises keystoneauth1.exceptions.ClientException: Placement could not
        be reached (same rule)
    """
    rp_uuids = list(rp_uuids)
    if concurrency <= 1 or len(rp_uuids) <= 1:
        return [_inventories_or_none(placement, rp) for rp in rp_uuids]
    pool = futures.ThreadPoolExecutor(
        max_workers=min(concurrency, len(rp_uuids)),
        thread_name_prefix='drs-inventories')
    try:
        # NOTE: all submitted at once, started in this order: once the
        # result of the n-th is taken, every earlier one was started, so
        # the first failure in this order is the one raised
        pending = [pool.submit(_inventories_or_none, placement, rp)
                   for rp in rp_uuids]
        return [future.result() for future in pending]
    finally:
        # on an error (or an interrupt): drop the requests not started,
        # wait for those under way (each bounded by the session's timeout)
        pool.shutdown(wait=True, cancel_futures=True)
