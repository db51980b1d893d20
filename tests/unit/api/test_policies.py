# SPDX-License-Identifier: Apache-2.0
"""Policy defaults (Nova's), the policy sample, and who may do what.

:class:`TestEnforcerMatrix` runs every rule through the real oslo.policy
Enforcer for each persona, with the targets the API gives (the caller's
project for cluster-wide rules, the server's project for the instance
rules); :class:`TestWhoMayDoWhat` does the same over the application's
routes. Personas carry the roles keystone puts in their tokens (its
default implications: admin implies member implies reader).
"""

import os
import subprocess
import sys
import uuid

import fixtures
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslotest import base as oslo_base

from nova_drs.api import access
from nova_drs.api import app
from nova_drs.api import errors
from nova_drs.api import policies
from nova_drs.api import router
from tests.unit.api import base

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
SAMPLE = os.path.join(REPO, 'etc', 'nova-drs', 'policy.yaml.sample')
GENERATOR = os.path.join(REPO, 'etc', 'nova-drs',
                         'nova-drs-policy-generator.conf')

BASE_RULES = {
    'context_is_admin': 'role:admin',
    'project_reader_api': 'role:reader and project_id:%(project_id)s',
    'project_member_api': 'role:member and project_id:%(project_id)s',
    'project_reader_or_admin':
        'rule:project_reader_api or rule:context_is_admin',
    'project_member_or_admin':
        'rule:project_member_api or rule:context_is_admin',
    'admin_api': 'rule:context_is_admin',
}
#: cluster-wide rules: admins, with a system- or project-scoped token
CLUSTER_RULES = {
    'drs:host:list', 'drs:host:show', 'drs:host:evacuate',
    'drs:plan:list', 'drs:plan:show', 'drs:plan:create', 'drs:plan:apply',
    'drs:plan:cancel', 'drs:migration:list', 'drs:migration:show',
    'drs:status:show'}
#: instance rules: (default, scopes)
INSTANCE_RULES = {
    'drs:instance:show': ('rule:project_reader_or_admin', ['project']),
    'drs:instance:show:host': ('rule:admin_api', ['project']),
    'drs:instance:update': ('rule:admin_api', ['project']),
}

#: the server's owners in Nova (the instance rules' target)
PROJECT = 'demo-project'
SERVER_TARGET = {'project_id': PROJECT, 'user_id': 'owner'}


def persona(roles, project_id=None, system_scope=None):
    return oslo_context.RequestContext(
        user_id='user-%s' % uuid.uuid4().hex[:6], project_id=project_id,
        system_scope=system_scope, roles=list(roles))


PERSONAS = {
    'admin': persona(['admin', 'member', 'reader'], 'admin-project'),
    'member': persona(['member', 'reader'], PROJECT),
    'other_member': persona(['member', 'reader'], 'other-project'),
    'reader': persona(['reader'], PROJECT),
    'system_admin': persona(['admin', 'member', 'reader'],
                            system_scope='all'),
    'no_role': persona([], PROJECT),
}

#: who passes each rule by default (the others are refused)
PASSES = dict(
    {rule: {'admin', 'system_admin'} for rule in CLUSTER_RULES},
    **{'drs:instance:show': {'admin', 'member', 'reader'},
       'drs:instance:show:host': {'admin'},
       'drs:instance:update': {'admin'}})


class TestDefaults(oslo_base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.rules = {r.name: r for r in policies.list_rules()}

    def test_base_rules(self):
        for name, check_str in BASE_RULES.items():
            rule = self.rules[name]
            self.assertEqual(check_str, rule.check_str, name)
            self.assertIsNone(rule.scope_types, name)

    def test_cluster_rules_are_for_admins(self):
        for name in CLUSTER_RULES:
            rule = self.rules[name]
            self.assertEqual('rule:admin_api', rule.check_str, name)
            self.assertEqual(['system', 'project'], rule.scope_types, name)
            self.assertTrue(rule.description)
            self.assertTrue(rule.operations)

    def test_instance_rules(self):
        for name, (check_str, scopes) in INSTANCE_RULES.items():
            rule = self.rules[name]
            self.assertEqual((check_str, scopes),
                             (rule.check_str, rule.scope_types), name)
            methods = {'drs:instance:show': ['GET'],
                       'drs:instance:show:host': ['GET', 'PATCH'],
                       'drs:instance:update': ['PATCH']}[name]
            self.assertEqual([{'method': method,
                               'path': '/v1/instances/{uuid}'}
                              for method in methods], rule.operations)

    def test_every_other_rule_is_admin_only(self):
        # rules added later (operational controls...) are cluster-wide
        for name, rule in self.rules.items():
            if name in BASE_RULES or name in INSTANCE_RULES:
                continue
            self.assertEqual('rule:admin_api', rule.check_str, name)

    def test_routes_check_instance_rules_on_the_server(self):
        for route in app.ROUTES:
            if route.rule in INSTANCE_RULES:
                self.assertEqual(router.SERVER, route.policy_target)
            elif route.rule is not None:
                self.assertEqual(router.CLUSTER, route.policy_target,
                                 route.template)

    def test_sample_is_up_to_date(self):
        out = os.path.join(self.useFixture(fixtures.TempDir()).path,
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
                             'date: run tox -e genpolicy')

    def test_enforcer_entry_point(self):
        enforcer = policies.get_enforcer()
        self.assertIn('drs:plan:apply', enforcer.registered_rules)
        self.assertIn('admin_api', enforcer.registered_rules)


class TestEnforcerMatrix(oslo_base.BaseTestCase):
    """Every rule x persona through the real Enforcer."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = cfg.ConfigOpts()
        self.conf([], project='nova-drs', default_config_files=[],
                  default_config_dirs=[])
        self.access = access.Access(policies.make_enforcer(self.conf))

    def target(self, rule, context):
        if rule in INSTANCE_RULES:
            return dict(SERVER_TARGET)
        return access.cluster_target(context)

    def passing(self, rule):
        return {name for name, context in PERSONAS.items()
                if self.access.allowed(rule, context,
                                       self.target(rule, context))}

    def test_defaults(self):
        for rule, expected in sorted(PASSES.items()):
            self.assertEqual(expected, self.passing(rule), rule)

    def test_refusal_names_the_rule(self):
        for rule in sorted(PASSES):
            for name, context in PERSONAS.items():
                if name in PASSES[rule]:
                    self.access.authorize(rule, context,
                                          self.target(rule, context))
                    continue
                error = self.assertRaises(
                    errors.Forbidden, self.access.authorize, rule,
                    context, self.target(rule, context))
                self.assertIn(rule, error.message)

    def test_scope_is_checked_before_nova(self):
        for rule in INSTANCE_RULES:
            self.assertRaises(errors.Forbidden, self.access.check_scope,
                              rule, PERSONAS['system_admin'])
            for name in ('admin', 'member', 'reader', 'no_role'):
                self.access.check_scope(rule, PERSONAS[name])

    def test_operator_relaxes_update_for_members(self):
        path = os.path.join(self.tmp, 'policy.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:instance:update": '
                    '"rule:project_member_or_admin"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        # (the enforcer reads [oslo_policy] policy_file when made)
        self.access = access.Access(policies.make_enforcer(self.conf))
        self.assertEqual({'admin', 'member'},
                         self.passing('drs:instance:update'))

    def test_another_projects_target_refuses_its_members(self):
        # the server's project, not the caller's, is what counts
        member = PERSONAS['member']
        for rule in ('drs:instance:show', 'drs:instance:update'):
            self.assertFalse(self.access.allowed(
                rule, member, {'project_id': 'other-project'}))


class TestWhoMayDoWhat(base.ApiTestCase):
    """Each persona against every protected operation, over HTTP."""

    PERSONAS = {'admin': base.ADMIN, 'member': base.MEMBER,
                'other_member': base.OTHER_MEMBER, 'reader': base.READER,
                'system_admin': base.SYSTEM_ADMIN, 'no_role': base.NO_ROLE}

    def setUp(self):
        super().setUp()
        self.server = self.nova.add(project_id=base.PROJECT)

    def _calls(self):
        unknown = str(uuid.uuid4())
        bodies = {'PATCH': {'opt_out': True}}
        for route in app.ROUTES:
            if route.rule is None:
                continue
            uuid_value = self.server.id if route.policy_target == \
                router.SERVER else unknown
            path = route.template.replace('{uuid}', uuid_value).replace(
                '{host}', 'host-1')
            yield route, path, bodies.get(route.method)

    def expected(self, route, persona_name):
        """None: not refused (2xx, or 404 for an unknown resource)."""
        if route.policy_target == router.CLUSTER:
            return None if persona_name in ('admin', 'system_admin') \
                else 403
        if persona_name == 'other_member':
            return 404      # Nova does not show it the server
        return None if persona_name in PASSES[route.rule] else 403

    def test_every_route_and_persona(self):
        for route, path, body in self._calls():
            for name, headers in self.PERSONAS.items():
                status, data, _ = self.request(route.method, path,
                                               body=body, headers=headers)
                expected = self.expected(route, name)
                where = (route.method, route.template, name, data)
                if expected is None:
                    self.assertLess(status, 400, where) \
                        if route.policy_target == router.SERVER \
                        else self.assertNotIn(status, (401, 403), where)
                else:
                    self.assertEqual(expected, status, where)
                    if expected == 403:
                        self.assertIn(route.rule, data['error']['message'])

    def test_policy_file_overrides(self):
        path = os.path.join(self.tmp, 'policy.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:host:list": "role:reader"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        status, _, _ = self.request('GET', '/v1/hosts', headers=base.READER)
        self.assertEqual(200, status)
        status, _, _ = self.request('GET', '/v1/hosts/host-1',
                                    headers=base.READER)
        self.assertEqual(403, status)
