# SPDX-License-Identifier: Apache-2.0
"""Sphinx configuration of the nova-drs documentation (tox -e docs)."""

import os

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_policy.sphinxext',
    'sphinxcontrib.openapi',
]

# openstackdocstheme
openstackdocs_repo_name = 'openstack/nova-drs'
openstackdocs_bug_project = 'nova-drs'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False

project = 'nova-drs'
copyright = '2026, the nova-drs developers'
master_doc = 'index'
exclude_patterns = ['_build']
pygments_style = 'native'
html_theme = 'openstackdocs'

# -- the API reference ------------------------------------------------------
# sphinxcontrib-openapi renders numeric response codes only: it gets a copy
# of the OpenAPI document without the "default" (any other status)
# responses, which every operation describes in words as well.
_HERE = os.path.dirname(os.path.abspath(__file__))
_OPENAPI = os.path.join(_HERE, '..', '..', 'nova_drs', 'api', 'openapi.yaml')
_GENERATED = os.path.join(_HERE, '_generated')


def _openapi_for_docs():
    import yaml

    with open(_OPENAPI, encoding='utf-8') as f:
        document = yaml.safe_load(f)
    for path_item in document.get('paths', {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.get('responses', {}).pop('default', None)
    os.makedirs(_GENERATED, exist_ok=True)
    with open(os.path.join(_GENERATED, 'openapi.yaml'), 'w',
              encoding='utf-8') as f:
        yaml.safe_dump(document, f, sort_keys=False)


_openapi_for_docs()


# -- the snapshot's JSON Schema ---------------------------------------------
# snapshot-format.rst includes the schema the reader validates with, as
# JSON, so that the page cannot disagree with it.
def _snapshot_schema_for_docs():
    import json

    from nova_drs.model import snapshot_schema

    os.makedirs(_GENERATED, exist_ok=True)
    with open(os.path.join(_GENERATED, 'snapshot-schema.json'), 'w',
              encoding='utf-8') as f:
        json.dump(snapshot_schema.DOCUMENT, f, indent=2)
        f.write('\n')


_snapshot_schema_for_docs()
