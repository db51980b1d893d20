# SPDX-License-Identifier: Apache-2.0
"""The OpenAPI document describes exactly the application's operations."""

import os

from oslotest import base

from nova_drs.api import app
from nova_drs.api.controllers import openapi
from nova_drs.api import policies
from tests.unit.api import openapi_check

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))


class TestOpenAPIDocument(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.document = openapi_check.load_document()

    def test_routes_and_document_agree(self):
        routes = {(r.method, r.template) for r in app.ROUTES}
        documented = openapi_check.operations(self.document)
        self.assertEqual(set(), routes - documented,
                         'routes missing from the OpenAPI document')
        self.assertEqual(set(), documented - routes,
                         'documented operations the application lacks')

    def test_public_operations_need_no_token(self):
        for route in app.ROUTES:
            operation = self.document['paths'][route.template][
                route.method.lower()]
            public = operation.get('security') == []
            self.assertEqual(route.rule is None, public, route.template)

    def test_policy_rules_are_named_in_the_descriptions(self):
        names = {rule.name for rule in policies.list_rules()}
        for route in app.ROUTES:
            if route.rule is None:
                continue
            self.assertIn(route.rule, names)
            operation = self.document['paths'][route.template][
                route.method.lower()]
            self.assertIn('Policy: %s' % route.rule,
                          operation['description'])

    def test_errors_are_documented(self):
        # what a client of each operation must expect, beyond "default"
        for route in app.ROUTES:
            if route.rule is None:
                continue
            operation = self.document['paths'][route.template][
                route.method.lower()]
            expected = {'400', '401', '403', '503'}
            if '{' in route.template:
                expected.add('404')
            if route.body is not None:
                expected |= {'411', '415'}
            self.assertEqual(set(), expected - set(operation['responses']),
                             '%s %s' % (route.method, route.template))

    def test_version_matches_the_newest_microversion(self):
        from nova_drs.api import microversion
        self.assertEqual(str(microversion.MAX_VERSION),
                         self.document['info']['version'])

    def test_doc_copy_is_the_package_file(self):
        doc = os.path.join(REPO, 'doc', 'api', 'openapi.yaml')
        self.assertEqual(os.path.realpath(openapi.PATH),
                         os.path.realpath(doc))

    def test_schemathesis_loads_it(self):
        import schemathesis
        schema = schemathesis.openapi.from_path(openapi.PATH)
        count = sum(1 for result in schema.get_all_operations()
                    if result.ok())
        self.assertEqual(len(app.ROUTES), count)
