# SPDX-License-Identifier: Apache-2.0
"""``GET /openapi.yaml``: the API's OpenAPI document (no authentication)."""

import functools
import os

import webob

PATH = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'openapi.yaml')


@functools.lru_cache(maxsize=1)
def document_bytes():
    with open(PATH, 'rb') as f:
        return f.read()


def show(call):
    return 200, webob.Response(body=document_bytes(),
                               content_type='application/yaml',
                               charset='UTF-8')
