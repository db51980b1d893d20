# SPDX-License-Identifier: Apache-2.0
"""Checking answers against the OpenAPI document (unit and functional).

OpenAPI 3.0 schemas are JSON Schema with differences; the two that the
document uses are turned into JSON Schema here: ``nullable: true``
becomes a type that also allows null, and ``$ref`` to
``#/components/...`` is resolved by jsonschema against the document.
"""

import copy
import re

import jsonschema
import yaml

from nova_drs.api.controllers import openapi as openapi_controller


def load_document():
    with open(openapi_controller.PATH, encoding='utf-8') as f:
        return yaml.safe_load(f)


def _json_schema(node):
    """A deep copy of an OpenAPI schema with ``nullable`` translated."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items()
           if k not in ('nullable', 'example')}
    if node.get('nullable'):
        kind = out.get('type')
        if kind is not None:
            out['type'] = [kind, 'null']
        if 'enum' in out:
            out['enum'] = list(out['enum']) + [None]
        if 'pattern' in out:
            # NOTE: a pattern applies to strings only: None passes
            pass
    return out


def operations(document):
    """``{(METHOD, path)}`` of the document."""
    found = set()
    for path, item in document['paths'].items():
        for method in item:
            if method in ('get', 'post', 'put', 'patch', 'delete'):
                found.add((method.upper(), path))
    return found


class ResponseChecker:
    """Validate a decoded JSON answer of an operation."""

    def __init__(self, document=None):
        self.document = document or load_document()
        self._root = _json_schema(copy.deepcopy(self.document))

    def _resolve(self, node):
        while '$ref' in node:
            ref = node['$ref']
            assert ref.startswith('#/'), ref
            target = self._root
            for part in ref[2:].split('/'):
                target = target[part]
            node = target
        return node

    def _find(self, method, path):
        for template, item in self._root['paths'].items():
            pattern = '^%s$' % re.sub(r'\{[a-z_]+\}', '[^/]+',
                                      re.escape(template)
                                      .replace(r'\{', '{')
                                      .replace(r'\}', '}'))
            if re.match(pattern, path) and method.lower() in item:
                return item[method.lower()]
        raise AssertionError('%s %s is not in the OpenAPI document'
                             % (method, path))

    def schema_for(self, method, path, status):
        path = path.split('?')[0]
        if len(path) > 1:
            path = path.rstrip('/')
        try:
            operation = self._find(method, path)
        except AssertionError:
            if status >= 400:
                # no such operation: the answer is the error document
                return self._root['components']['schemas']['Error']
            raise
        responses = operation['responses']
        response = responses.get(str(status)) or responses.get('default')
        if response is None:
            raise AssertionError('%s %s: status %s is not documented'
                                 % (method, path, status))
        response = self._resolve(response)
        content = response.get('content', {}).get('application/json')
        if content is None:
            return None
        return content['schema']

    def check(self, method, path, status, body):
        """Raise jsonschema.ValidationError when ``body`` does not fit."""
        schema = self.schema_for(method, path, status)
        if schema is None:
            return
        schema = dict(schema)
        schema['components'] = self._root['components']
        jsonschema.Draft7Validator(schema).validate(body)
