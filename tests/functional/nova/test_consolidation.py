# SPDX-License-Identifier: Apache-2.0
"""Hosts freed by consolidation against a real Nova (the Nova lab).

The balancer disables the nova-compute service of a host a consolidation
plan emptied, with its reason; its view of Nova then shows the host
disabled, recognises the reason as its own (only such hosts are enabled
again when a hotspot needs room, never one an operator disabled), and
enabling the service makes the host a destination again.
"""

from nova_drs.balancer.planning import consolidation
from nova_drs.balancer.view import nova_view
from tests.functional.nova import fixtures as nova_fixtures

HOSTS = nova_fixtures.HOSTS


class TestFreedHostServices(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 3:
            self.skipTest('needs 3 fake computes')
        self.services = consolidation.Services(self.conn)
        self.collector = nova_view.NovaCollector(self.conn, self.conf)
        for host in ('fake-host-2', 'fake-host-3'):
            # whatever happens below, the lab's hosts end enabled
            self.addCleanup(self.conn.compute.enable_service,
                            self.lab.service(host))

    def _view(self):
        view = self.collector.collect()
        model = view.model
        disabled = {n: bool(model.hosts.disabled[model.host_index[n]])
                    for n in HOSTS}
        reasons = {n: view.hosts[n].disabled_reason for n in HOSTS
                   if view.hosts[n].disabled_reason}
        return model, disabled, reasons

    def test_disable_with_the_reason_then_enable(self):
        self.lab.disable('fake-host-2', reason='operator: fan broken')
        self.services.disable('fake-host-3')
        svc = self.lab.service('fake-host-3')
        self.assertEqual(('disabled', consolidation.DISABLED_REASON),
                         (svc.status, svc.disabled_reason))

        model, disabled, reasons = self._view()
        self.assertEqual({'fake-host-1': False, 'fake-host-2': True,
                          'fake-host-3': True}, disabled)
        self.assertTrue(consolidation.freed_by_drs(reasons['fake-host-3']))
        self.assertFalse(consolidation.freed_by_drs(reasons['fake-host-2']))
        # only the host nova-drs disabled may be enabled for a hotspot
        owned = set(HOSTS)
        self.assertEqual(['fake-host-3'], consolidation.room_candidates(
            model, owned, reasons, fresh=owned, near=['fake-host-1']))

        self.services.enable('fake-host-3')
        svc = self.lab.service('fake-host-3')
        self.assertEqual('enabled', svc.status)
        self.assertFalse(svc.disabled_reason)
        _model, disabled, reasons = self._view()
        self.assertFalse(disabled['fake-host-3'])
        self.assertNotIn('fake-host-3', reasons)
        self.assertEqual([], consolidation.room_candidates(
            _model, owned, reasons, fresh=owned))

    def test_unknown_host(self):
        self.assertRaises(LookupError, self.services.disable, 'no-such-host')
