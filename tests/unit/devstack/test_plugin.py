# SPDX-License-Identifier: Apache-2.0
"""devstack/plugin.sh, run phase by phase against stubbed devstack.

Each phase runs in a fresh bash as stack.sh would source it (after
devstack/settings) with the stubs of ``stubs.sh``: the stubs record their
calls, and the ini functions really write the files, so the tests read
the nova-drs.conf and nova.conf the plugin produced.
"""

import os
import shlex
import subprocess
import tempfile

from oslotest import base

from nova_drs import config
from tests.unit.devstack import fake_ini

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
RUNNER = os.path.join(HERE, 'run-plugin.sh')

# What devstack's configure_nova writes before the plugin's post-config.
NOVA_CONF = """\
[DEFAULT]
debug = True

[filter_scheduler]
enabled_filters = ComputeFilter,ImagePropertiesFilter,ServerGroupAffinityFilter
available_filters = nova.scheduler.filters.all_filters
available_filters = my_filters.SiteFilter
track_instance_changes = False

[notifications]
notification_format = unversioned
"""

CONTROLLER = 'key,mysql,n-api,n-cond,n-sch,placement-api,drs-balancer,drs-api'
COMPUTE = 'n-cpu,drs-agent'
ALL_IN_ONE = CONTROLLER + ',n-cpu,drs-agent'


class PluginTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(subprocess.call, ['rm', '-rf', self.tmp])
        self.bin = os.path.join(self.tmp, 'bin')
        self.log = os.path.join(self.tmp, 'calls.log')
        os.makedirs(self.bin)
        os.makedirs(os.path.join(self.tmp, 'etc', 'nova'))
        self.nova_conf = os.path.join(self.tmp, 'etc', 'nova', 'nova.conf')
        with open(self.nova_conf, 'w') as f:
            f.write(NOVA_CONF)
        self.conf_dir = os.path.join(self.tmp, 'etc', 'nova-drs')
        self.drs_conf = os.path.join(self.conf_dir, 'nova-drs.conf')
        self.uwsgi_conf = os.path.join(self.conf_dir,
                                       'nova-drs-api-uwsgi.ini')
        self.data_dir = os.path.join(self.tmp, 'data', 'nova-drs')
        # nova-drs-manage stands for itself: it records how it was called
        manage = os.path.join(self.bin, 'nova-drs-manage')
        with open(manage, 'w') as f:
            f.write('#!/bin/sh\necho "nova-drs-manage $*" >> %s\n'
                    % shlex.quote(self.log))
        os.chmod(manage, 0o755)

    def env(self, services, **extra):
        env = {
            'PATH': os.environ['PATH'],
            'STUB_LOG': self.log,
            'STUB_BIN': self.bin,
            'NOVA_DRS_DIR': REPO,
            'NOVA_DRS_CONF_DIR': self.conf_dir,
            'DEST': self.tmp,
            'DATA_DIR': os.path.join(self.tmp, 'data'),
            'STACK_USER': os.environ.get('USER') or 'root',
            'ENABLED_SERVICES': services,
            'SERVICE_HOST': '192.0.2.10',
            'SERVICE_PROTOCOL': 'http',
            'SERVICE_TIMEOUT': '60',
            'REGION_NAME': 'RegionOne',
            'KEYSTONE_SERVICE_URI': 'http://192.0.2.10/identity',
            'SERVICE_PASSWORD': 'svcsecret',
            'SERVICE_DOMAIN_NAME': 'Default',
            'SERVICE_PROJECT_NAME': 'service',
            'ENABLE_DEBUG_LOG_LEVEL': 'True',
            'DATABASE_BACKENDS': 'mysql postgresql',
            'LIBVIRT_GROUP': 'libvirt',
            'NOVA_CONF': self.nova_conf,
            'NOVA_CPU_CONF': os.path.join(self.tmp, 'etc', 'nova',
                                          'nova-cpu.conf'),
        }
        env.update(extra)
        return env

    def run_phase(self, services, *phase, **extra):
        """Run one phase; return the calls it made."""
        start = (os.path.getsize(self.log)
                 if os.path.exists(self.log) else 0)
        proc = subprocess.run(
            ['bash', RUNNER] + list(phase), env=self.env(services, **extra),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, proc.returncode,
                         'plugin.sh %s failed:\n%s' % (' '.join(phase),
                                                       proc.stderr[-3000:]))
        with open(self.log) as f:
            f.seek(start)
            return f.read().splitlines()

    def stack(self, services, **extra):
        calls = {}
        for phase in ('install', 'post-config', 'extra'):
            calls[phase] = self.run_phase(services, 'stack', phase, **extra)
        return calls

    def ini(self, path, section, option):
        return fake_ini.get_values(path, section, option)

    def assertCalled(self, calls, line):
        self.assertIn(line, calls)

    def assertNotCalled(self, calls, prefix):
        self.assertEqual([], [c for c in calls if c.startswith(prefix)])

    # checks shared by the configurations

    def check_nova_scheduler_lines(self):
        get = self.ini
        self.assertEqual(
            ['nova.scheduler.filters.all_filters', 'my_filters.SiteFilter',
             'nova_drs.scheduler.filters.DRSHotspotFilter'],
            get(self.nova_conf, 'filter_scheduler', 'available_filters'))
        self.assertEqual(
            ['ComputeFilter,ImagePropertiesFilter,'
             'ServerGroupAffinityFilter,DRSHotspotFilter'],
            get(self.nova_conf, 'filter_scheduler', 'enabled_filters'))
        self.assertEqual(
            ['nova.scheduler.weights.all_weighers',
             'nova_drs.scheduler.weighers.DRSLoadWeigher'],
            get(self.nova_conf, 'filter_scheduler', 'weight_classes'))
        # the rest of Nova's section is untouched
        self.assertEqual(['False'], get(self.nova_conf, 'filter_scheduler',
                                        'track_instance_changes'))
        self.assertEqual(
            ['mysql+pymysql://root:dbsecret@127.0.0.1/nova_drs?charset=utf8'],
            get(self.nova_conf, 'drs_database', 'connection'))

    def check_common_conf(self):
        conf = config.load([self.drs_conf])
        url = 'rabbit://stackrabbit:rabbitsecret@192.0.2.10:5672/'
        self.assertEqual([url], self.ini(self.drs_conf, 'DEFAULT',
                                         'transport_url'))
        self.assertEqual([url], self.ini(self.drs_conf,
                                         'oslo_messaging_notifications',
                                         'transport_url'))
        self.assertEqual('partial', conf.drs_balancer.mode)
        self.assertEqual('hotspot', conf.drs_balancer.strategy)
        self.assertEqual('file://%s/coordination' % self.data_dir,
                         conf.drs_coordination.backend_url)
        get = self.ini
        for option, value in (('auth_type', 'password'),
                              ('auth_url', 'http://192.0.2.10/identity'),
                              ('username', 'nova-drs'),
                              ('password', 'svcsecret'),
                              ('project_name', 'service'),
                              ('user_domain_name', 'Default'),
                              ('project_domain_name', 'Default'),
                              ('region_name', 'RegionOne')):
            self.assertEqual([value], get(self.drs_conf, 'drs_nova', option))
        return conf

    def check_unstack_and_clean(self, services, stopped):
        calls = self.run_phase(services, 'unstack')
        self.assertEqual(['stop_process %s' % s for s in stopped],
                         [c for c in calls if c.startswith('stop_process')])
        self.run_phase(services, 'clean')
        self.assertFalse(os.path.exists(self.conf_dir))
        self.assertFalse(os.path.exists(self.data_dir))
        # Nova's file is devstack's to remove
        self.assertTrue(os.path.exists(self.nova_conf))

    # the three node roles

    def test_all_in_one(self):
        calls = self.stack(ALL_IN_ONE)
        self.assertCalled(calls['install'], 'setup_develop %s' % REPO)
        self.assertCalled(calls['install'], 'install_package python3-libvirt')

        post = calls['post-config']
        conf = self.check_common_conf()
        self.assertEqual(
            'mysql+pymysql://root:dbsecret@127.0.0.1/nova_drs?charset=utf8',
            conf.drs_database.connection)
        self.assertEqual('keystone', conf.drs_api.auth_strategy)
        self.assertEqual('http://192.0.2.10/drs', conf.drs_api.public_endpoint)
        for option, value in (('username', 'nova-drs'),
                              ('password', 'svcsecret'),
                              ('www_authenticate_uri',
                               'http://192.0.2.10/identity')):
            self.assertEqual([value], self.ini(self.drs_conf,
                                               'keystone_authtoken', option))
        self.check_nova_scheduler_lines()
        self.assertEqual(['both'], self.ini(self.nova_conf, 'notifications',
                                            'notification_format'))
        self.assertCalled(post, 'create_service_user nova-drs admin')
        self.assertCalled(
            post, 'get_or_create_service nova-drs drs '
            'Distributed resource scheduler')
        self.assertCalled(
            post, 'get_or_create_endpoint service-id-nova-drs RegionOne '
            'http://192.0.2.10/drs http://192.0.2.10/drs '
            'http://192.0.2.10/drs')
        # database before its schema, both before nova-scheduler starts
        sync = 'nova-drs-manage --config-file %s db sync' % self.drs_conf
        self.assertLess(post.index('recreate_database nova_drs'),
                        post.index(sync))
        self.assertEqual(['nova_drs.wsgi.api:application'],
                         self.ini(self.uwsgi_conf, 'uwsgi', 'module'))
        self.assertEqual(['NOVA_DRS_API_CONFIG=%s' % self.drs_conf],
                         self.ini(self.uwsgi_conf, 'uwsgi', 'env'))

        extra = calls['extra']
        self.assertCalled(
            extra, 'run_process drs-api %s/uwsgi --procname-prefix '
            'nova-drs-api --ini %s' % (self.bin, self.uwsgi_conf))
        self.assertCalled(extra, 'wait_for_service 60 http://192.0.2.10/drs')
        self.assertCalled(
            extra, 'run_process drs-balancer %s/nova-drs-balancer '
            '--config-file %s' % (self.bin, self.drs_conf))
        self.assertCalled(
            extra, 'run_process drs-agent %s/nova-drs-agent --config-file '
            '%s/etc/nova/nova-cpu.conf --config-file %s libvirt'
            % (self.bin, self.tmp, self.drs_conf))
        self.assertCalled(extra, 'add_user_to_group %s libvirt'
                          % self.env('')['STACK_USER'])
        self.check_unstack_and_clean(
            ALL_IN_ONE, ['drs-agent', 'drs-balancer', 'drs-api'])
        self.assertCalled(self.run_phase(ALL_IN_ONE, 'clean'),
                          'remove_uwsgi_config %s nova-drs-api'
                          % self.uwsgi_conf)

    def test_controller(self):
        calls = self.stack(CONTROLLER, NOVA_DRS_MODE='full',
                           NOVA_DRS_STRATEGY='balance',
                           NOVA_DRS_COORDINATION_URL='redis://192.0.2.10')
        self.assertNotCalled(calls['install'], 'install_package')
        conf = config.load([self.drs_conf])
        self.assertEqual('full', conf.drs_balancer.mode)
        self.assertEqual('balance', conf.drs_balancer.strategy)
        self.assertEqual('redis://192.0.2.10',
                         conf.drs_coordination.backend_url)
        self.check_nova_scheduler_lines()
        self.assertCalled(calls['post-config'],
                          'create_service_user nova-drs admin')
        extra = calls['extra']
        self.assertNotCalled(extra, 'run_process drs-agent')
        self.assertNotCalled(extra, 'add_user_to_group')
        self.assertTrue([c for c in extra
                         if c.startswith('run_process drs-balancer')])
        self.check_unstack_and_clean(CONTROLLER, ['drs-balancer', 'drs-api'])

    def test_compute(self):
        calls = self.stack(COMPUTE,
                           NOVA_DRS_LIBVIRT_URI='qemu+tcp://localhost/system')
        self.assertCalled(calls['install'], 'install_package python3-libvirt')
        post = calls['post-config']
        conf = self.check_common_conf()
        self.assertEqual('qemu+tcp://localhost/system',
                         conf.libvirt.connection_uri)
        # no database, no Keystone accounts, no API, no scheduler lines
        self.assertEqual([], self.ini(self.drs_conf, 'drs_database',
                                      'connection'))
        self.assertEqual([], self.ini(self.drs_conf, 'keystone_authtoken',
                                      'username'))
        for prefix in ('recreate_database', 'nova-drs-manage',
                       'create_service_user', 'get_or_create',
                       'write_uwsgi_config'):
            self.assertNotCalled(post, prefix)
        self.assertEqual(
            ['nova.scheduler.filters.all_filters', 'my_filters.SiteFilter'],
            self.ini(self.nova_conf, 'filter_scheduler', 'available_filters'))
        # nova-compute must emit the versioned notifications too
        self.assertEqual(['both'], self.ini(self.nova_conf, 'notifications',
                                            'notification_format'))
        extra = calls['extra']
        self.assertEqual(['run_process drs-agent'],
                         [' '.join(c.split()[:2]) for c in extra
                          if c.startswith('run_process')])
        self.check_unstack_and_clean(COMPUTE, ['drs-agent'])

    def test_post_config_twice_adds_nothing_twice(self):
        self.stack(ALL_IN_ONE)
        self.run_phase(ALL_IN_ONE, 'stack', 'post-config')
        self.check_nova_scheduler_lines()

    def test_scheduler_lines_on_nova_defaults(self):
        # no available_filters, weight_classes nor enabled_filters yet
        with open(self.nova_conf, 'w') as f:
            f.write('[DEFAULT]\ndebug = True\n')
        self.run_phase(CONTROLLER, 'stack', 'post-config',
                       NOVA_FILTERS='ComputeFilter,ImagePropertiesFilter')
        get = self.ini
        self.assertEqual(
            ['nova.scheduler.filters.all_filters',
             'nova_drs.scheduler.filters.DRSHotspotFilter'],
            get(self.nova_conf, 'filter_scheduler', 'available_filters'))
        self.assertEqual(
            ['ComputeFilter,ImagePropertiesFilter,DRSHotspotFilter'],
            get(self.nova_conf, 'filter_scheduler', 'enabled_filters'))
        self.assertEqual(
            ['nova.scheduler.weights.all_weighers',
             'nova_drs.scheduler.weighers.DRSLoadWeigher'],
            get(self.nova_conf, 'filter_scheduler', 'weight_classes'))

    def test_scheduler_plugins_can_be_left_out(self):
        self.run_phase(CONTROLLER, 'stack', 'post-config',
                       NOVA_DRS_SCHEDULER_PLUGINS='False')
        self.assertEqual(
            ['nova.scheduler.filters.all_filters', 'my_filters.SiteFilter'],
            self.ini(self.nova_conf, 'filter_scheduler', 'available_filters'))
        self.assertEqual([], self.ini(self.nova_conf, 'filter_scheduler',
                                      'weight_classes'))

    def test_failed_db_sync_stops_stack(self):
        with open(os.path.join(self.bin, 'nova-drs-manage'), 'w') as f:
            f.write('#!/bin/sh\necho "nova-drs-manage: no database" >&2\n'
                    'exit 2\n')
        proc = subprocess.run(
            ['bash', RUNNER, 'stack', 'post-config'],
            env=self.env(CONTROLLER), capture_output=True, text=True,
            timeout=60)
        self.assertEqual(1, proc.returncode)
        with open(self.log) as f:
            self.assertIn('die', f.read())

    def test_nothing_done_without_drs_services(self):
        for phase in (('stack', 'install'), ('stack', 'post-config'),
                      ('stack', 'extra'), ('unstack',), ('clean',)):
            calls = self.run_phase('key,n-api,n-sch,n-cpu', *phase)
            self.assertEqual(['define_plugin nova-drs'], calls)
        with open(self.nova_conf) as f:
            self.assertEqual(NOVA_CONF, f.read())
