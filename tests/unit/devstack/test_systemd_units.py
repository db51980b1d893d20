# SPDX-License-Identifier: Apache-2.0
"""The systemd units of etc/nova-drs/systemd start what the package has."""

import configparser
import os
import shutil
import subprocess

from oslotest import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
UNITS = os.path.join(REPO, 'etc', 'nova-drs', 'systemd')


def console_scripts():
    setup = configparser.ConfigParser()
    setup.read(os.path.join(REPO, 'setup.cfg'))
    lines = setup['entry_points']['console_scripts'].strip().splitlines()
    return {line.split('=')[0].strip() for line in lines}


def read_unit(name):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(os.path.join(UNITS, name))
    return unit


class SystemdUnitsTestCase(base.BaseTestCase):

    def test_units(self):
        scripts = console_scripts()
        expected = {
            'nova-drs-agent.service': ('nova', 'nova-drs-agent'),
            'nova-drs-balancer.service': ('nova-drs', 'nova-drs-balancer'),
            'nova-drs-api.service': ('nova-drs', 'uwsgi'),
        }
        self.assertEqual(sorted(expected), sorted(os.listdir(UNITS)))
        for name, (user, program) in expected.items():
            service = read_unit(name)['Service']
            self.assertEqual(user, service['User'], name)
            self.assertEqual('on-failure', service['Restart'], name)
            argv = service['ExecStart'].split()
            self.assertEqual('/usr/bin/' + program, argv[0], name)
            if program != 'uwsgi':
                self.assertIn(program, scripts)
            self.assertIn('/etc/nova-drs/', service['ExecStart'], name)

    def test_api_unit_uses_the_uwsgi_ini(self):
        service = read_unit('nova-drs-api.service')['Service']
        self.assertIn('--ini /etc/nova-drs/nova-drs-api-uwsgi.ini',
                      service['ExecStart'])
        uwsgi = configparser.ConfigParser(strict=False, interpolation=None)
        uwsgi.read(os.path.join(REPO, 'etc', 'nova-drs',
                                'nova-drs-api-uwsgi.ini'))
        self.assertEqual('nova_drs.wsgi.api:application',
                         uwsgi['uwsgi']['module'])

    def test_systemd_accepts_the_units(self):
        analyze = shutil.which('systemd-analyze')
        if analyze is None:
            self.skipTest('systemd-analyze not installed')
        for name in sorted(os.listdir(UNITS)):
            proc = subprocess.run(
                [analyze, 'verify', '--man=no', os.path.join(UNITS, name)],
                capture_output=True, text=True, timeout=60)
            # the programs are not installed in /usr/bin here
            problems = [line for line in proc.stderr.splitlines()
                        if 'is not executable' not in line]
            self.assertEqual([], problems, name)
