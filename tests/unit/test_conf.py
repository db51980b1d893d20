# SPDX-License-Identifier: Apache-2.0
"""Option definitions and :func:`nova_drs.config.load`."""

import importlib.metadata
import os
import textwrap

import fixtures
from oslo_config import types
from oslotest import base

from nova_drs.conf import opts
from nova_drs import config

NOVA_CONF = """\
[DEFAULT]
debug = true
transport_url = rabbit://nova:secret@controller:5672/
my_ip = 192.0.2.10
compute_driver = libvirt.LibvirtDriver
cpu_allocation_ratio = 4.0

[api_database]
connection = mysql+pymysql://nova:secret@controller/nova_api

[libvirt]
virt_type = kvm
live_migration_permit_auto_converge = true

[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
enabled_filters = ComputeFilter,ServerGroupAntiAffinityFilter

[placement]
auth_type = password
region_name = RegionOne

[drs]
cpu_threshold = 0.75
persistence_window = 5
persistence_count = 3

[drs_balancer]
strategy = balance
max_migrations_per_plan = 20
"""


class TestOptionDefinitions(base.BaseTestCase):

    def _all_opts(self):
        for group, group_opts in opts.list_opts():
            for opt in group_opts:
                yield group.name, opt

    def test_groups(self):
        names = [group.name for group, _opts in opts.list_opts()]
        self.assertIn('drs', names)
        self.assertIn('drs_balancer', names)
        self.assertEqual(len(names), len(set(names)))

    def test_every_option_has_help_and_type(self):
        for group, opt in self._all_opts():
            where = '[%s] %s' % (group, opt.name)
            self.assertTrue(opt.help and opt.help.strip(),
                            '%s has no help text' % where)
            self.assertIsNotNone(opt.type, '%s has no type' % where)

    def test_numeric_options_are_bounded(self):
        for group, opt in self._all_opts():
            if not isinstance(opt.type, types.Number):
                continue
            where = '[%s] %s' % (group, opt.name)
            self.assertIsNotNone(opt.type.min, '%s has no min' % where)
            self.assertIsNotNone(opt.type.max, '%s has no max' % where)
            self.assertLessEqual(opt.type.min, opt.type.max, where)
            if opt.default is None:
                # unset unless given: a deprecated option that overrides
                # its successor only when set
                self.assertTrue(opt.deprecated_for_removal, where)
                continue
            self.assertGreaterEqual(opt.default, opt.type.min, where)
            self.assertLessEqual(opt.default, opt.type.max, where)

    def test_group_help(self):
        for group, _opts in opts.list_opts():
            self.assertTrue(group.help, '[%s] has no help' % group.name)

    def test_list_opts_entry_point_registered(self):
        eps = importlib.metadata.entry_points(group='oslo.config.opts')
        found = [ep for ep in eps if ep.name == 'nova_drs']
        self.assertEqual(1, len(found),
                         'oslo.config.opts entry point nova_drs missing; '
                         'is nova-drs installed (pip install -e .)?')
        self.assertEqual('nova_drs.conf.opts:list_opts', found[0].value)
        self.assertIs(opts.list_opts, found[0].load())


class TestLoad(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # oslo.config's default lookup starts in ~/.nova-drs and ~/
        self.useFixture(fixtures.EnvironmentVariable('HOME', self.tmp))

    def _write(self, text, name='nova-drs.conf'):
        path = os.path.join(self.tmp, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(textwrap.dedent(text))
        return path

    def _load_error(self, *paths):
        e = self.assertRaises(config.ConfigError, config.load, paths)
        return str(e)

    def test_defaults_without_files(self):
        conf = config.load()
        self.assertEqual(0.85, conf.drs.cpu_threshold)
        self.assertEqual('hotspot', conf.drs_balancer.strategy)
        self.assertEqual('drs:opt_out',
                         conf.drs_balancer.opt_out_metadata_key)

    def test_missing_file(self):
        path = os.path.join(self.tmp, 'does-not-exist.conf')
        message = self._load_error(path)
        self.assertIn('does-not-exist.conf', message)

    def test_syntax_error(self):
        path = self._write('[drs\ncpu_threshold = 0.8\n')
        message = self._load_error(path)
        self.assertIn(path, message)
        self.assertIn('parse', message)

    def test_out_of_range(self):
        path = self._write('[drs]\ncpu_threshold = 1.7\n')
        message = self._load_error(path)
        self.assertIn('[drs] cpu_threshold', message)

    def test_not_a_number(self):
        path = self._write('[drs_balancer]\nmax_migrations_per_plan = ten\n')
        message = self._load_error(path)
        self.assertIn('[drs_balancer] max_migrations_per_plan', message)

    def test_persistence_count_above_window(self):
        path = self._write("""\
            [drs]
            persistence_window = 2
            persistence_count = 3
            """)
        message = self._load_error(path)
        self.assertIn('persistence_count', message)
        self.assertIn('persistence_window', message)

    def test_persistence_above_window_in_seconds(self):
        path = self._write("""\
            [drs]
            persistence_window_s = 20
            persistence_s = 30
            """)
        message = self._load_error(path)
        self.assertIn('persistence_s (30)', message)
        self.assertIn('persistence_window_s (20)', message)

    def test_nova_conf_with_unrelated_sections(self):
        path = self._write(NOVA_CONF, name='nova.conf')
        conf = config.load([path])
        self.assertEqual(0.75, conf.drs.cpu_threshold)
        self.assertEqual(5, conf.drs.persistence_window)
        self.assertEqual(3, conf.drs.persistence_count)
        self.assertEqual('balance', conf.drs_balancer.strategy)
        self.assertEqual(20, conf.drs_balancer.max_migrations_per_plan)
        # options nova-drs does not define are left to Nova
        self.assertTrue(conf.debug)
        self.assertNotIn('api_database', conf)
        self.assertNotIn('filter_scheduler', conf)

    def test_later_files_override(self):
        nova = self._write(NOVA_CONF, name='nova.conf')
        override = self._write('[drs]\ncpu_threshold = 0.9\n',
                               name='override.conf')
        conf = config.load([nova, override])
        self.assertEqual(0.9, conf.drs.cpu_threshold)
        self.assertEqual(5, conf.drs.persistence_window)

    def test_config_dir(self):
        os.mkdir(os.path.join(self.tmp, 'conf.d'))
        self._write('[drs]\nmemory_threshold = 0.8\n',
                    name=os.path.join('conf.d', '10-drs.conf'))
        conf = config.load(config_dirs=[os.path.join(self.tmp, 'conf.d')])
        self.assertEqual(0.8, conf.drs.memory_threshold)

    def _write_default_files(self):
        os.makedirs(os.path.join(self.tmp, '.nova-drs', 'nova-drs.conf.d'))
        self._write('[drs]\ncpu_threshold = 0.7\n',
                    name=os.path.join('.nova-drs', 'nova-drs.conf'))
        self._write('[drs]\nmemory_threshold = 0.8\n',
                    name=os.path.join('.nova-drs', 'nova-drs.conf.d',
                                      '10-memory.conf'))

    def test_default_places(self):
        self._write_default_files()
        for conf in (config.load(), config.load(args=[])):
            self.assertEqual(0.7, conf.drs.cpu_threshold)
            self.assertEqual(0.8, conf.drs.memory_threshold)
            self.assertEqual(
                [os.path.join(self.tmp, '.nova-drs', 'nova-drs.conf')],
                conf.config_file)

    def test_named_file_replaces_the_default_file(self):
        self._write_default_files()
        named = self._write('[drs]\npersistence_window = 4\n',
                            name='named.conf')
        conf = config.load([named])
        self.assertEqual([named], conf.config_file)
        self.assertEqual(4, conf.drs.persistence_window)
        self.assertEqual(0.85, conf.drs.cpu_threshold)
        # the default directory is still read, as for Nova
        self.assertEqual(0.8, conf.drs.memory_threshold)

    def test_without_default_files(self):
        self._write_default_files()
        conf = config.load(default_files=False)
        self.assertEqual([], conf.config_file)
        self.assertEqual(0.85, conf.drs.cpu_threshold)
        self.assertNotEqual(0.8, conf.drs.memory_threshold)
