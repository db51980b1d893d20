# SPDX-License-Identifier: Apache-2.0
"""The checked-in sample configuration matches the options in the code."""

import difflib
import os
import tempfile

from oslo_config import cfg
from oslo_config import generator
from oslotest import base

from nova_drs.conf import opts

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
GENERATOR_CONF = os.path.join(REPO, 'etc', 'nova-drs',
                              'nova-drs-config-generator.conf')
SAMPLE = os.path.join(REPO, 'etc', 'nova-drs', 'nova-drs.conf.sample')


def generate_sample(output_file):
    """Run oslo-config-generator with the project's generator config."""
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(['--config-file', GENERATOR_CONF, '--output-file', output_file],
         project='nova-drs', default_config_files=[],
         default_config_dirs=[])
    generator.generate(conf)


def sections(text):
    """Split a sample into {group name: text of its section}."""
    out, name, lines = {}, None, []
    for line in text.splitlines(True):
        if line.startswith('[') and line.rstrip().endswith(']'):
            if name is not None:
                out[name] = ''.join(lines)
            name, lines = line.strip()[1:-1], []
        lines.append(line)
    if name is not None:
        out[name] = ''.join(lines)
    return out


class TestConfigSample(base.BaseTestCase):

    def test_sample_is_up_to_date(self):
        """Every nova-drs group of the sample is exactly as generated.

        Sections of other libraries (oslo.log in [DEFAULT]) follow the
        installed library versions, so only their presence is checked.
        """
        with open(SAMPLE, encoding='utf-8') as f:
            checked_in = sections(f.read())
        with tempfile.TemporaryDirectory() as tmp:
            fresh_path = os.path.join(tmp, 'nova-drs.conf.sample')
            generate_sample(fresh_path)
            with open(fresh_path, encoding='utf-8') as f:
                fresh = sections(f.read())
        self.assertEqual(sorted(fresh), sorted(checked_in),
                         'groups differ: run tox -e genconfig')
        ours = {getattr(group, 'name', group)
                for group, _opts in opts.list_opts()}
        for name in sorted(ours):
            if fresh[name] != checked_in[name]:
                diff = ''.join(difflib.unified_diff(
                    checked_in[name].splitlines(True),
                    fresh[name].splitlines(True),
                    'etc/nova-drs/nova-drs.conf.sample (checked in)',
                    'etc/nova-drs/nova-drs.conf.sample (generated)'))
                self.fail('etc/nova-drs/nova-drs.conf.sample is out of '
                          'date: run tox -e genconfig and commit the '
                          'result.\n' + diff)

    def test_sample_has_every_group(self):
        with open(SAMPLE, encoding='utf-8') as f:
            text = f.read()
        for group in ('[DEFAULT]', '[drs]', '[drs_balancer]'):
            self.assertIn('\n%s\n' % group, '\n' + text)
