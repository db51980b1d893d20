# SPDX-License-Identifier: Apache-2.0
"""DRSHotspotFilter with Nova's real HostState, RequestSpec and handler."""

from nova.scheduler import filters as nova_filters

from nova_drs.scheduler import filters
from tests.unit.scheduler import base


class TestHotspotFilter(base.SchedulerDataTestCase):

    def setUp(self):
        super().setUp()
        self.filter = filters.DRSHotspotFilter(self.state)
        self.hosts = [base.nova_host(h) for h in base.HOSTS]

    def passing(self, spec=None, index=0):
        """Host names Nova's filter handler keeps with our filter."""
        handler = nova_filters.HostFilterHandler()
        kept = handler.get_filtered_objects(
            [self.filter], self.hosts, spec or base.request_spec(),
            index=index)
        return [h.host for h in kept]

    def test_loaded_by_import_path(self):
        handler = nova_filters.HostFilterHandler()
        classes = handler.get_matching_classes(
            ['nova.scheduler.filters.all_filters',
             'nova_drs.scheduler.filters.DRSHotspotFilter'])
        self.assertIn(filters.DRSHotspotFilter, classes)

    def test_hot_hosts_fail(self):
        self.report(hot={'fake-host-1': ['cpu'],
                         'fake-host-2': ['memory', 'network']})
        self.state.refresh()
        self.assertEqual(['fake-host-3'], self.passing())
        self.assertFalse(self.filter.host_passes(self.hosts[0],
                                                 base.request_spec()))
        self.assertTrue(self.filter.host_passes(self.hosts[2],
                                                base.request_spec()))

    def test_all_hot_pass_all_by_default(self):
        self.assertTrue(base.make_conf(self.url).drs_scheduler
                        .pass_all_when_all_rejected)
        self.conf.set_override('pass_all_when_all_rejected', True,
                               group='drs_scheduler')
        self.report(hot={h: ['cpu'] for h in base.HOSTS})
        self.state.refresh()
        with self.assertLogs('nova_drs.scheduler.filters', 'WARNING') as logs:
            self.assertEqual(list(base.HOSTS), self.passing())
        self.assertIn('all 3 candidate hosts hot or reserved',
                      logs.output[0])

    def test_all_hot_strict(self):
        self.report(hot={h: ['cpu'] for h in base.HOSTS})
        self.state.refresh()
        self.assertEqual([], self.passing())

    def test_no_hotspot_every_host_passes(self):
        self.report()
        self.state.refresh()
        self.assertEqual(list(base.HOSTS), self.passing())

    def test_reserved_destination_fails(self):
        self.report()
        self.reserve('fake-host-2', count=2)
        self.state.refresh()
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing())

    def test_reserved_destination_passes_for_its_own_instance(self):
        # Nova's scheduler checks the destination of nova-drs' own live
        # migration with this filter: the reservation is for that instance
        self.report()
        plan = self.reserve('fake-host-2')
        moving = plan.actions[0].instance_uuid
        self.state.refresh()
        spec = base.request_spec()
        spec.instance_uuid = moving
        self.assertEqual(list(base.HOSTS), self.passing(spec))
        # any other instance still keeps off the reserved host
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing())

    def test_request_without_an_instance_uuid(self):
        # a RequestSpec whose instance_uuid is unset raises on access
        self.report()
        self.reserve('fake-host-2')
        self.state.refresh()
        spec = base.request_spec()
        spec.obj_reset_changes()
        del spec.instance_uuid
        self.assertFalse(spec.obj_attr_is_set('instance_uuid'))
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing(spec))
        self.assertFalse(self.filter.host_passes(self.hosts[1], spec))

    def test_two_reservations_keep_the_host_from_either(self):
        self.report()
        plan = self.reserve('fake-host-2', count=2)
        self.state.refresh()
        spec = base.request_spec()
        spec.instance_uuid = plan.actions[0].instance_uuid
        # the other migration's room is not this instance's to take
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing(spec))

    def test_reserved_destination_allowed_by_option(self):
        self.conf.set_override('reject_reserved_destinations', False,
                               group='drs_scheduler')
        self.report()
        self.reserve('fake-host-2')
        self.state.refresh()
        self.assertEqual(list(base.HOSTS), self.passing())

    def test_reservations_count_without_host_rows(self):
        # no host state written yet, but migrations are on their way
        self.reserve('fake-host-3')
        self.state.refresh()
        self.assertEqual(['fake-host-1', 'fake-host-2'], self.passing())

    def test_no_data_yet_passes_everything(self):
        self.report(hot={h: ['cpu'] for h in base.HOSTS})
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.assertEqual(list(base.HOSTS), self.passing())
        self.assertIn('no data for the scheduler yet', logs.output[0])

    def test_old_snapshot_passes_everything(self):
        self.report(hot={h: ['cpu'] for h in base.HOSTS})
        self.state.refresh()
        self.assertEqual([], self.passing())
        self.mono.advance(61)
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.assertEqual(list(base.HOSTS), self.passing())
        self.assertIn('the nova-drs data is 61 s old', logs.output[0])

    def test_old_rows_pass(self):
        self.report(hot={'fake-host-1': ['cpu']})
        self.advance(45)
        self.report(hot={'fake-host-2': ['cpu']},
                    hosts=['fake-host-2', 'fake-host-3'])
        self.state.refresh()
        self.assertEqual(['fake-host-3'], self.passing())
        # fake-host-1's row becomes older than max_age, fake-host-2's
        # (15 s) and the snapshot (15 s) do not
        self.mono.advance(15)
        self.assertEqual(['fake-host-3'], self.passing())
        self.mono.advance(0.5)
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing())

    def test_rows_already_old_at_refresh_are_unknown(self):
        self.report(hot={'fake-host-1': ['cpu']})
        self.advance(61)
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING') as logs:
            self.state.refresh()
        self.assertIn('no current state of 3 host(s)', logs.output[0])
        self.assertEqual(list(base.HOSTS), self.passing())

    def test_hosts_the_balancer_marked_stale_pass(self):
        self.report(hot={'fake-host-1': ['cpu'], 'fake-host-2': ['cpu']},
                    stale=['fake-host-1'])
        self.state.refresh()
        self.assertEqual(['fake-host-1', 'fake-host-3'], self.passing())

    def test_unknown_hosts_pass(self):
        self.report(hot={'fake-host-1': ['cpu']}, hosts=['fake-host-1'])
        self.state.refresh()
        self.hosts.append(base.nova_host('another-host'))
        self.assertEqual(['fake-host-2', 'fake-host-3', 'another-host'],
                         self.passing())

    def test_rebuild_is_not_filtered(self):
        self.report(hot={h: ['cpu'] for h in base.HOSTS})
        self.state.refresh()
        self.assertEqual(list(base.HOSTS),
                         self.passing(base.request_spec(rebuild=True)))

    def test_runs_once_per_request(self):
        self.report(hot={'fake-host-1': ['cpu']})
        self.state.refresh()
        spec = base.request_spec(num_instances=2)
        self.assertEqual(['fake-host-2', 'fake-host-3'], self.passing(spec))
        # Nova skips the filter for the request's second instance
        self.assertEqual(list(base.HOSTS), self.passing(spec, index=1))
