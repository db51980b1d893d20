# SPDX-License-Identifier: Apache-2.0
import os

import fixtures
from oslotest import base

from nova_drs.agent import inspector
from nova_drs import config


class TestAgentOptions(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def load(self, text):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        return config.load([path])

    def test_defaults(self):
        conf = config.load()
        self.assertEqual(10.0, conf.drs_agent.interval)
        self.assertEqual('drs_notifications', conf.drs_agent.topic)
        self.assertEqual('messagingv2', conf.drs_agent.notification_driver)
        self.assertEqual(360, conf.drs_agent.buffer_size)
        self.assertTrue(conf.drs_agent.host)
        self.assertIsNone(conf.drs_agent.cpu_set)
        self.assertEqual('qemu:///system', conf.libvirt.connection_uri)

    def test_nova_conf_libvirt_section(self):
        # Nova's own [libvirt] options are ignored, its empty
        # connection_uri means qemu:///system
        conf = self.load('[libvirt]\nvirt_type = kvm\nconnection_uri =\n'
                         'images_type = rbd\n')
        self.assertEqual('', conf.libvirt.connection_uri)
        self.assertEqual('qemu:///system',
                         inspector.LibvirtInspector.from_conf(conf).uri)
        conf = self.load('[libvirt]\nconnection_uri = qemu+tcp://h/system\n')
        self.assertEqual('qemu+tcp://h/system',
                         inspector.LibvirtInspector.from_conf(conf).uri)

    def test_cpu_set(self):
        # Nova's syntax, kept as text: nova-drs-agent parses it at start
        conf = self.load('[drs_agent]\ncpu_set = 4-12,^8,15\n')
        self.assertEqual('4-12,^8,15', conf.drs_agent.cpu_set)

    def test_bad_values(self):
        for text, option in (
                ('[drs_agent]\ninterval = 0.1\n', '[drs_agent] interval'),
                ('[drs_agent]\nbuffer_size = 0\n', '[drs_agent] buffer_size'),
                ('[drs_agent]\nnotification_driver = log\n',
                 '[drs_agent] notification_driver')):
            e = self.assertRaises(config.ConfigError, self.load, text)
            self.assertIn(option, str(e))
