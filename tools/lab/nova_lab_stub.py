# SPDX-License-Identifier: Apache-2.0
"""Stand-in for Glance and Neutron in the Nova lab (a WSGI application).

A Nova with a fake virt driver and servers booted with ``networks='none'``
still asks Glance about the image and Neutron about ports and extensions.
This application answers those reads, on one port for both services:

==============================  =============================================
``GET /v2/schemas/image``       an image schema naming every image field
``GET /v2/images``              a list with the one lab image
``GET /v2/images/<uuid>``       the lab image, under whatever id was asked
``GET /v2.0/extensions``        no extensions
``GET /v2.0/<collection>``      an empty collection (``{"ports": []}``...)
anything else                   404
==============================  =============================================

The schema must list every field the image has: Nova's image layer treats
fields that the schema does not list as custom properties, and then fails
with ``KeyError: 'id'`` when it builds the server's image metadata.
"""

import json
import re

#: The image tests boot from; any other id gets the same image back.
IMAGE_ID = 'a6a0b2c4-3e0f-4d7e-9c61-6e6f76616472'

_IMAGE_PATH = re.compile(r'^/v2/images/([0-9a-fA-F-]{1,64})$')
_COLLECTION_PATH = re.compile(r'^/v2\.0/([a-z][a-z_-]*)(?:\.json)?$')


def lab_image(image_id=IMAGE_ID):
    """The one image: a raw, active, public image of 1 KiB."""
    stamp = '2026-01-01T00:00:00Z'
    return {
        'id': image_id,
        'name': 'nova-drs-lab-image',
        'status': 'active',
        'visibility': 'public',
        'protected': False,
        'os_hidden': False,
        'disk_format': 'raw',
        'container_format': 'bare',
        'min_ram': 0,
        'min_disk': 0,
        'size': 1024,
        'virtual_size': None,
        'checksum': None,
        'os_hash_algo': None,
        'os_hash_value': None,
        'owner': 'admin',
        'tags': [],
        'created_at': stamp,
        'updated_at': stamp,
        'self': '/v2/images/%s' % image_id,
        'file': '/v2/images/%s/file' % image_id,
        'schema': '/v2/schemas/image',
    }


def image_schema():
    # An empty sub-schema accepts any value, None included.
    return {
        'name': 'image',
        'properties': {field: {} for field in lab_image()},
        'additionalProperties': {'type': 'string'},
        'links': [],
    }


def _json(start_response, status, body):
    data = json.dumps(body).encode('utf-8')
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]


def application(environ, start_response):
    method = environ.get('REQUEST_METHOD', 'GET')
    path = environ.get('PATH_INFO', '/').rstrip('/') or '/'
    if method == 'GET':
        if path == '/v2/schemas/image':
            return _json(start_response, '200 OK', image_schema())
        if path == '/v2/images':
            return _json(start_response, '200 OK', {'images': [lab_image()]})
        found = _IMAGE_PATH.match(path)
        if found:
            return _json(start_response, '200 OK', lab_image(found.group(1)))
        if path == '/v2.0/extensions':
            return _json(start_response, '200 OK', {'extensions': []})
        found = _COLLECTION_PATH.match(path)
        if found:
            key = found.group(1).replace('-', '_')
            return _json(start_response, '200 OK', {key: []})
    return _json(start_response, '404 Not Found',
                 {'error': 'nova lab stub: no %s %s' % (method, path)})
