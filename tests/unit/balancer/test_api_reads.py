# SPDX-License-Identifier: Apache-2.0
"""The servers listing as JSON: fields, paging, errors."""

import threading
import time

from openstack import exceptions as sdk_exc
from oslotest import base

from nova_drs.balancer.view import api_reads
from tests.unit.balancer import nova_fakes

BASE = 'http://nova.example:8774/v2.1'


def doc(n, **kw):
    out = {'id': 'srv-%d' % n, 'name': 'vm-%d' % n, 'status': 'ACTIVE',
           'OS-EXT-SRV-ATTR:host': 'compute-%d' % (n % 3),
           'OS-EXT-STS:task_state': None, 'tenant_id': 'p1',
           'flavor': {'vcpus': 2, 'ram': 4096, 'original_name': 'm1'},
           'metadata': {'k': 'v'}, 'updated': '2026-12-06T10:00:00Z'}
    out.update(kw)
    return out


class PagedCompute:
    """Nova's paging: ``page`` servers a page, a next link with a marker.

    The link names Nova's own host, which the client must not follow.
    """

    def __init__(self, docs, page=2, status=200, key='servers'):
        self.key = key
        self.docs = docs
        self.page = page
        self.status = status
        self.requests = []

    def get(self, url, params=None, microversion=None):
        self.requests.append((url, dict(params), microversion))
        if self.status != 200:
            return nova_fakes.FakeResponse(
                {'badRequest': {'message': 'bad'}}, self.status)
        start = 0
        if 'marker' in params:
            start = [d['id'] for d in self.docs].index(params['marker']) + 1
        chunk = self.docs[start:start + self.page]
        body = {self.key: chunk}
        if start + self.page < len(self.docs):
            body[self.key + '_links'] = [{
                'rel': 'next',
                'href': 'http://internal-name/v2.1/servers/detail?'
                        'all_tenants=True&limit=2&marker=%s'
                        % chunk[-1]['id']}]
        return nova_fakes.FakeResponse(body)


class ListServersTest(base.BaseTestCase):

    def test_fields_read_as_the_sdk_names_them(self):
        compute = PagedCompute([doc(1, **{'OS-EXT-STS:task_state':
                                          'migrating'})])
        (srv,) = api_reads.list_servers(compute)
        self.assertEqual(
            ('srv-1', 'vm-1', 'ACTIVE', 'compute-1', 'migrating', 'p1',
             {'vcpus': 2, 'ram': 4096, 'original_name': 'm1'}, {'k': 'v'},
             '2026-12-06T10:00:00Z'),
            (srv.id, srv.name, srv.status, srv.compute_host,
             srv.task_state, srv.project_id, srv.flavor, srv.metadata,
             srv.updated_at))
        # a server without them (a deleted one): empty, not an error
        (bare,) = api_reads.list_servers(PagedCompute([{'id': 'x'}]))
        self.assertEqual(({}, {}, None), (bare.flavor, bare.metadata,
                                          bare.compute_host))

    def test_every_page_with_the_markers_only(self):
        docs = [doc(n) for n in range(5)]
        compute = PagedCompute(docs)
        listed = list(api_reads.list_servers(
            compute, changes_since='2026-12-06T09:58:00Z'))
        self.assertEqual([d['id'] for d in docs], [s.id for s in listed])
        self.assertEqual(3, len(compute.requests))
        for url, params, microversion in compute.requests:
            # the endpoint the balancer uses, not Nova's link
            self.assertEqual('/servers/detail', url)
            self.assertEqual(('True', '2026-12-06T09:58:00Z', '2.47'),
                             (params['all_tenants'],
                              params['changes-since'], microversion))
        self.assertEqual([None, 'srv-1', 'srv-3'],
                         [p.get('marker') for _, p, _ in compute.requests])

    def test_each_page_is_reported(self):
        pages = []
        listed = list(api_reads.list_servers(
            PagedCompute([doc(n) for n in range(5)]),
            on_page=lambda: pages.append(1)))
        self.assertEqual((5, 3), (len(listed), len(pages)))

    def test_a_link_that_loops_ends_the_listing(self):
        requests = []

        def get(url, params=None, microversion=None):
            # a broken Nova: always the same page, linking to itself
            requests.append(params.get('marker'))
            return nova_fakes.FakeResponse({
                'servers': [doc(1)],
                'servers_links': [{'rel': 'next', 'href': BASE +
                                   '/servers/detail?marker=srv-1'}]})
        compute = PagedCompute([])
        compute.get = get
        listed = list(api_reads.list_servers(compute))
        self.assertEqual([None, 'srv-1'], requests)
        self.assertEqual(['srv-1', 'srv-1'], [s.id for s in listed])

    def test_an_error_is_the_sdk_s(self):
        compute = PagedCompute([doc(1)], status=400)
        self.assertRaises(sdk_exc.BadRequestException, list,
                          api_reads.list_servers(compute))
        compute = PagedCompute([doc(1)], status=503)
        self.assertRaises(sdk_exc.HttpException, list,
                          api_reads.list_servers(compute))


class ProviderInventoriesTest(base.BaseTestCase):

    def test_inventories_with_their_generation(self):
        placement = nova_fakes.FakePlacement()
        placement.providers.append(nova_fakes.res(
            id='rp-1', name='compute-1', generation=7))
        placement.inventories['rp-1'] = [
            nova_fakes.inventory('VCPU', 16, 2, 4.0),
            nova_fakes.inventory('MEMORY_MB', 65536, 512, 1.5)]
        listed = {inv.resource_class: inv for inv in
                  api_reads.provider_inventories(placement, 'rp-1')}
        self.assertEqual(
            [(16, 2, 4.0, 7), (65536, 512, 1.5, 7)],
            [(inv.total, inv.reserved, inv.allocation_ratio,
              inv.resource_provider_generation)
             for inv in (listed['VCPU'], listed['MEMORY_MB'])])

    def test_an_error_is_the_sdk_s(self):
        class Gone:
            def get(self, url):
                return nova_fakes.FakeResponse(
                    {'errors': [{'detail': 'no such provider'}]}, 404)
        self.assertRaises(sdk_exc.NotFoundException,
                          api_reads.provider_inventories, Gone(),
                          'rp-x')


def reader_threads():
    return [t for t in threading.enumerate()
            if t.name.startswith('drs-inventories')]


class RecordingPlacement(nova_fakes.FakePlacement):
    """Placement's inventories answered from threads, and watched.

    Each request waits ``delay(uuid)`` seconds; ``status`` maps a uuid to
    the HTTP error Placement answers for it. Records the requests in
    flight at most, and the threads that made them.
    """

    def __init__(self, providers, delay=lambda rp: 0.0, status=None):
        super().__init__()
        self.delay = delay
        self.status = status or {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.threads = set()
        #: set once ``fill`` requests are in flight together
        self.full = threading.Event()
        self.fill = None
        for n in range(providers):
            rp = 'rp-%03d' % n
            self.providers.append(nova_fakes.res(id=rp, name='c-%d' % n,
                                                 generation=n))
            self.inventories[rp] = [
                nova_fakes.inventory('VCPU', 8 + n, n % 3, 1.0 + n),
                nova_fakes.inventory('MEMORY_MB', 1024 * n, 512, 1.5)]

    def get(self, url):
        rp = url.split('/')[2]
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.threads.add(threading.current_thread().name)
            if self.fill is not None and self.in_flight >= self.fill:
                self.full.set()
        try:
            if self.fill is not None:
                # hold the request until `fill` are in flight: a reader
                # that makes fewer at once never gets there (timeout)
                self.full.wait(5.0)
            time.sleep(self.delay(rp))
            if rp in self.status:
                self.calls.append(('inventories', rp))
                return nova_fakes.FakeResponse(
                    {'errors': [{'detail': 'error about %s' % rp}]},
                    self.status[rp])
            return super().get(url)
        finally:
            with self.lock:
                self.in_flight -= 1


def summary(results):
    """What the collector uses of each result, comparable."""
    return [None if listed is None else
            [(i.resource_class, i.total, i.reserved, i.allocation_ratio,
              i.resource_provider_generation) for i in listed]
            for listed in results]


class ProvidersInventoriesTest(base.BaseTestCase):
    """Several providers' inventories, some at a time."""

    def setUp(self):
        super().setUp()
        # not in the order the providers were listed
        order = (7, 3, 19, 0, 11, 5, 18, 2, 13, 1, 8, 16, 4, 12, 9)
        self.uuids = ['rp-%03d' % n for n in order]

    def test_same_results_in_the_same_order_as_one_after_the_other(self):
        placement = RecordingPlacement(20)
        expected = summary([api_reads.provider_inventories(placement, rp)
                            for rp in self.uuids])
        self.assertEqual(15, len(expected))
        for concurrency in (1, 2, 4, 16, 64):
            # the later providers answer first
            slow = RecordingPlacement(
                20, delay=lambda rp: 0.002 * (20 - int(rp[3:])))
            got = api_reads.providers_inventories(slow, self.uuids,
                                                  concurrency)
            self.assertEqual(expected, summary(got), concurrency)
            self.assertEqual(len(self.uuids), slow.call_names().count(
                'inventories'))
        self.assertEqual([], reader_threads())

    def test_one_at_a_time_in_the_callers_thread(self):
        placement = RecordingPlacement(20)
        api_reads.providers_inventories(placement, self.uuids, 1)
        self.assertEqual(1, placement.max_in_flight)
        self.assertEqual({threading.current_thread().name},
                         placement.threads)

    def test_concurrency_is_bounded(self):
        for concurrency in (2, 4, 8):
            placement = RecordingPlacement(40, delay=lambda rp: 0.001)
            placement.fill = concurrency
            api_reads.providers_inventories(
                placement, ['rp-%03d' % n for n in range(40)], concurrency)
            # reached (not one at a time), never exceeded
            self.assertTrue(placement.full.is_set())
            self.assertEqual(concurrency, placement.max_in_flight)
            self.assertEqual(concurrency, len(placement.threads))
            self.assertEqual([], reader_threads())

    def test_a_provider_gone_is_none_in_its_place(self):
        placement = RecordingPlacement(20, status={'rp-011': 404})
        for concurrency in (1, 4):
            got = api_reads.providers_inventories(placement, self.uuids,
                                                  concurrency)
            self.assertEqual(
                [rp == 'rp-011' for rp in self.uuids],
                [listed is None for listed in got])

    def test_the_first_error_in_order_is_raised_and_the_rest_not_read(self):
        uuids = ['rp-%03d' % n for n in range(200)]
        for concurrency in (1, 4):
            # rp-020 fails slowly, rp-022 at once: rp-020's is raised, as
            # one after the other would
            placement = RecordingPlacement(
                200, status={'rp-020': 503, 'rp-022': 500},
                delay=lambda rp: 0.05 if rp == 'rp-020' else 0.002)
            e = self.assertRaises(
                sdk_exc.HttpException, api_reads.providers_inventories,
                placement, uuids, concurrency)
            self.assertIn('rp-020', str(e))
            self.assertEqual(503, e.status_code)
            made = placement.call_names().count('inventories')
            # the earlier ones all, few after: not the 200
            self.assertGreaterEqual(made, 21)
            self.assertLess(made, 21 + 40 * concurrency)
            self.assertEqual(0, placement.in_flight)
            self.assertEqual([], reader_threads())


class ServicesAndProvidersTest(base.BaseTestCase):

    def test_services_with_the_sdk_s_names(self):
        conn = nova_fakes.FakeConnection()
        conn.add_host('compute-1', status='disabled', forced_down=True,
                      zone='az-2', reason='maintenance')
        (svc,) = api_reads.list_services(conn.compute)
        self.assertEqual(
            ('compute-1', 'disabled', 'up', True, 'maintenance', 'az-2'),
            (svc.host, svc.status, svc.state, svc.is_forced_down,
             svc.disabled_reason, svc.availability_zone))

    def test_providers(self):
        conn = nova_fakes.FakeConnection()
        hv = conn.add_host('compute-1')
        conn.placement.bump(hv.id)
        (rp,) = api_reads.list_providers(conn.placement)
        self.assertEqual((hv.id, 'compute-1', 2),
                         (rp.id, rp.name, rp.generation))

    def test_errors_are_the_sdk_s(self):
        class Down:
            def get(self, url, params=None, microversion=None):
                return nova_fakes.FakeResponse({}, 503)
        self.assertRaises(sdk_exc.HttpException, api_reads.list_services,
                          Down())
        self.assertRaises(sdk_exc.HttpException, api_reads.list_providers,
                          Down())


class ListHypervisorsTest(base.BaseTestCase):

    def test_every_page_with_the_service_host(self):
        docs = [{'id': 'cn-%d' % n, 'hypervisor_hostname': 'node-%d' % n,
                 'service': {'host': 'compute-%d' % (n // 2), 'id': 's'}}
                for n in range(5)]
        compute = PagedCompute(docs, key='hypervisors')
        pages = []
        listed = api_reads.list_hypervisors(
            compute, on_page=lambda: pages.append(1))
        self.assertEqual([('cn-%d' % n, 'node-%d' % n,
                           'compute-%d' % (n // 2)) for n in range(5)],
                         [(h.id, h.name, h.service_details['host'])
                          for h in listed])
        self.assertEqual(3, len(pages))
        self.assertEqual([('/os-hypervisors/detail', '2.53')] * 3,
                         [(url, mv) for url, _, mv in compute.requests])
        self.assertEqual([None, 'cn-1', 'cn-3'],
                         [p.get('marker') for _, p, _ in compute.requests])
