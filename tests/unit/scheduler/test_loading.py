# SPDX-License-Identifier: Apache-2.0
"""How nova-scheduler loads the plugins: light imports, Nova's CONF.

Each test runs a fresh interpreter, as nova-scheduler is one: what a
module imports is only visible in a process that has not imported it yet,
and the options are registered on Nova's process-wide ``CONF``.
"""

import json
import os
import subprocess
import sys
import textwrap

import fixtures
from oslotest import base

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))

#: nothing of these may come with the plugins (beyond what Nova's own
#: base classes import: stevedore, through nova.exception)
FORBIDDEN = ('libvirt', 'numpy', 'openstack', 'oslo_messaging', 'stevedore',
             'tooz', 'sqlalchemy', 'oslo_db', 'nova_drs.agent',
             'nova_drs.balancer', 'nova_drs.db', 'nova.conf')


def run_python(code):
    proc = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c', textwrap.dedent(code)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError('python exited with %d:\n%s'
                             % (proc.returncode, proc.stderr))
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TestLoading(base.BaseTestCase):

    def test_imports_are_light(self):
        result = run_python("""
            import json, sys
            from nova.scheduler import filters, weights
            before = set(sys.modules)
            import nova_drs.scheduler.filters
            import nova_drs.scheduler.weighers
            added = set(sys.modules) - before
            print(json.dumps({'before': sorted(before),
                              'added': sorted(added)}))
            """)
        for name in FORBIDDEN:
            for module in result['added']:
                self.assertFalse(
                    module == name or module.startswith(name + '.'),
                    '%s imported with the plugins' % module)
        # and what Nova's bases bring is only what the check allows
        for name in ('libvirt', 'numpy', 'sqlalchemy', 'oslo_db',
                     'oslo_messaging', 'tooz', 'openstack'):
            self.assertNotIn(name, result['before'])

    def test_nova_drs_package_is_light(self):
        result = run_python("""
            import json, sys
            import nova_drs
            print(json.dumps(sorted(m for m in sys.modules
                                    if m.split('.')[0] in (
                                        'nova_drs', 'numpy', 'sqlalchemy',
                                        'oslo_db', 'oslo_messaging'))))
            """)
        self.assertEqual(['nova_drs'], result)

    def test_both_classes_on_nova_conf(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        database = os.path.join(tmp, 'drs.sqlite')
        conf = os.path.join(tmp, 'nova.conf')
        with open(conf, 'w', encoding='utf-8') as f:
            f.write(textwrap.dedent("""\
                [filter_scheduler]
                available_filters = nova.scheduler.filters.all_filters
                available_filters = nova_drs.scheduler.filters.DRSHotspotFilter
                enabled_filters = ComputeFilter,DRSHotspotFilter
                weight_classes = nova.scheduler.weights.all_weighers
                weight_classes = nova_drs.scheduler.weighers.DRSLoadWeigher

                [drs_scheduler]
                max_age = 42
                cpu_weight_multiplier = 2.5
                refresh_interval = 0.5

                [drs_database]
                connection = sqlite:///%s
                """ % database))
        result = run_python("""
            import json, sys, time
            import nova.conf
            from nova.scheduler import filters, weights
            CONF = nova.conf.CONF
            CONF(['--config-file', %r], project='nova')
            names = CONF.filter_scheduler.available_filters
            filter_classes = filters.HostFilterHandler().get_matching_classes(
                names)
            weigher_classes = weights.HostWeightHandler(
                ).get_matching_classes(CONF.filter_scheduler.weight_classes)
            # as nova-scheduler's HostManager does: both, no arguments
            ours = [c() for c in filter_classes + weigher_classes
                    if c.__module__.startswith('nova_drs.')]
            again = [c() for c in filter_classes + weigher_classes
                     if c.__module__.startswith('nova_drs.')]
            from nova_drs.scheduler import state
            shared = state.shared_state()
            same = all(o._state is shared for o in ours + again)
            time.sleep(1.2)
            out = {
                'classes': sorted(type(o).__name__ for o in ours),
                'same_state': same,
                'max_age': CONF.drs_scheduler.max_age,
                'cpu': CONF.drs_scheduler.cpu_weight_multiplier,
                'connection': CONF.drs_database.connection,
                'running': shared.running(),
                'errors': shared.counters['refresh_errors'],
                'usable': shared.current() is not None,
            }
            state.reset_shared_state()
            print(json.dumps(out))
            """ % conf)
        self.assertEqual(['DRSHotspotFilter', 'DRSLoadWeigher'],
                         result['classes'])
        self.assertTrue(result['same_state'])
        self.assertEqual(42.0, result['max_age'])
        self.assertEqual(2.5, result['cpu'])
        self.assertEqual('sqlite:///' + database, result['connection'])
        # no database yet: the thread runs, retries, and creates nothing
        self.assertTrue(result['running'])
        self.assertGreaterEqual(result['errors'], 2)
        self.assertFalse(result['usable'])
        self.assertFalse(os.path.exists(database))
