# SPDX-License-Identifier: Apache-2.0
"""Policy defaults, the policy sample, and who may do what."""

import os
import subprocess
import sys
import uuid

from oslotest import base as oslo_base

from nova_drs.api import app
from nova_drs.api import policies
from tests.unit.api import base

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
SAMPLE = os.path.join(REPO, 'etc', 'nova-drs', 'policy.yaml.sample')
GENERATOR = os.path.join(REPO, 'etc', 'nova-drs',
                         'nova-drs-policy-generator.conf')

CONTRACT_RULES = {
    'drs:host:list', 'drs:host:show', 'drs:host:evacuate',
    'drs:instance:show', 'drs:instance:update', 'drs:plan:list',
    'drs:plan:show', 'drs:plan:create', 'drs:plan:apply', 'drs:plan:cancel',
    'drs:migration:list', 'drs:migration:show', 'drs:status:show'}


class TestDefaults(oslo_base.BaseTestCase):

    def test_rules_of_the_contract(self):
        rules = {r.name: r for r in policies.list_rules()}
        self.assertEqual(CONTRACT_RULES, set(rules))
        for rule in rules.values():
            self.assertEqual(['system', 'project'], rule.scope_types)
            self.assertTrue(rule.description)
            self.assertTrue(rule.operations)

    def test_admin_for_changes_reader_for_reads(self):
        for route in app.ROUTES:
            if route.rule is None:
                continue
            rule = {r.name: r for r in policies.list_rules()}[route.rule]
            expected = policies.READER if route.method == 'GET' \
                else policies.ADMIN
            self.assertEqual(expected, rule.check_str, route.template)

    def test_sample_is_up_to_date(self):
        out = os.path.join(self.useFixture(base.fixtures.TempDir()).path,
                           'policy.yaml')
        subprocess.run(
            [sys.executable, '-c',
             'import sys; from oslo_policy import generator; '
             'sys.exit(generator.generate_sample())',
             '--config-file', GENERATOR, '--output-file', out],
            check=True, cwd=REPO, capture_output=True)
        with open(out, encoding='utf-8') as f:
            generated = f.read()
        with open(SAMPLE, encoding='utf-8') as f:
            self.assertEqual(generated, f.read(),
                             'etc/nova-drs/policy.yaml.sample is out of '
                             'date: run oslopolicy-sample-generator '
                             '--config-file %s' % GENERATOR)

    def test_enforcer_entry_point(self):
        enforcer = policies.get_enforcer()
        self.assertIn('drs:plan:apply', enforcer.registered_rules)


class TestWhoMayDoWhat(base.ApiTestCase):
    """Each persona against every protected operation."""

    def _calls(self):
        unknown = str(uuid.uuid4())
        bodies = {'PATCH': {'opt_out': True}}
        for route in app.ROUTES:
            if route.rule is None:
                continue
            path = route.template.replace('{uuid}', unknown).replace(
                '{host}', 'host-1')
            yield route, path, bodies.get(route.method)

    def assertRefusedChanges(self, headers, may_read):
        for route, path, body in self._calls():
            status, data, _ = self.request(route.method, path, body=body,
                                           headers=headers)
            is_read = route.method == 'GET'
            if is_read and may_read:
                self.assertNotEqual(403, status, (route.template, data))
            else:
                self.assertEqual(403, status, (route.template, data))
                self.assertIn(route.rule, data['error']['message'])

    def test_reader_reads_and_changes_nothing(self):
        self.assertRefusedChanges(base.READER, may_read=True)

    def test_member_changes_nothing(self):
        self.assertRefusedChanges(base.MEMBER, may_read=True)

    def test_no_role_does_nothing(self):
        self.assertRefusedChanges({'X-Project-Id': 'p'}, may_read=False)

    def test_admins_may_do_everything(self):
        for headers in (base.ADMIN, base.SYSTEM_ADMIN):
            for route, path, body in self._calls():
                status, data, _ = self.request(route.method, path,
                                               body=body, headers=headers)
                self.assertNotEqual(403, status, (route.template, data))

    def test_policy_file_overrides(self):
        path = os.path.join(self.tmp, 'policy.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:host:list": "role:admin"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        status, _, _ = self.request('GET', '/v1/hosts', headers=base.READER)
        self.assertEqual(403, status)
        status, _, _ = self.request('GET', '/v1/hosts', headers=base.ADMIN)
        self.assertEqual(200, status)
