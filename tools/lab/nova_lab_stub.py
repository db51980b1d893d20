# SPDX-License-Identifier: Apache-2.0
"""Stand-in for Glance and Neutron in the Nova lab (a WSGI application).

A Nova with a fake virt driver and servers booted with ``networks='none'``
still asks Glance about the image and Neutron about ports and extensions.
This application answers those reads, on one port for both services:

==============================  =============================================
``GET /v2/schemas/image``       an image schema naming every image field
``GET /v2/images``              a list with the lab images
``GET /v2/images/<uuid>``       a guest image (below) by its id; the lab
                                image under any other id
``GET /v2/images/<uuid>/file``  a guest image's data
``GET /v2.0/extensions``        no extensions
``GET /v2.0/<collection>``      an empty collection (``{"ports": []}``...)
anything else                   404
==============================  =============================================

The guest images boot the lab's test guest (tools/lab/build-guest.sh) on
Nova's libvirt driver, the way Glance's AMI-style images do: a kernel
(``aki``) and a ramdisk (``ari``) named by the ``kernel_id`` and
``ramdisk_id`` properties of a small raw disk image that the guest never
reads. Their files come from ``$NOVA_DRS_LAB_DIR/guest``.

The schema must list every field the image has: Nova's image layer treats
fields that the schema does not list as custom properties, and then fails
with ``KeyError: 'id'`` when it builds the server's image metadata.
"""

import json
import os
import re

#: The image tests boot from; any other id gets the same image back.
IMAGE_ID = 'a6a0b2c4-3e0f-4d7e-9c61-6e6f76616472'
#: The test guest for Nova's libvirt driver, and its kernel and ramdisk.
GUEST_IMAGE_ID = '6e6f7661-6472-4073-8000-6775657374a0'
GUEST_KERNEL_ID = '6e6f7661-6472-4073-8000-6775657374a1'
GUEST_RAMDISK_ID = '6e6f7661-6472-4073-8000-6775657374a2'
GUEST_DIR = os.path.join(
    os.environ.get('NOVA_DRS_LAB_DIR', '/var/tmp/nova-drs-lab'), 'guest')
#: the raw disk of the guest image: zeros, only there because Nova's
#: libvirt driver gives every server a root disk
GUEST_DISK_SIZE = 1048576
#: the guest's second serial port (ttyS1) carries its test commands
GUEST_PROPERTIES = {
    'kernel_id': GUEST_KERNEL_ID,
    'ramdisk_id': GUEST_RAMDISK_ID,
    'os_command_line': 'console=ttyS0 quiet',
    'hw_serial_port_count': '2',
}
_FILE_PATH = re.compile(r'^/v2/images/([0-9a-fA-F-]{1,64})/file$')

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


def _guest_file(image_id):
    if image_id == GUEST_KERNEL_ID:
        return os.path.join(GUEST_DIR, 'vmlinuz')
    if image_id == GUEST_RAMDISK_ID:
        return os.path.join(GUEST_DIR, 'initrd.gz')
    return None


def _file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def guest_image(image_id):
    """A guest image by id, None when ``image_id`` is none of them."""
    if image_id == GUEST_IMAGE_ID:
        image = dict(lab_image(image_id), name='nova-drs-lab-guest',
                     size=GUEST_DISK_SIZE, **GUEST_PROPERTIES)
    elif image_id in (GUEST_KERNEL_ID, GUEST_RAMDISK_ID):
        kernel = image_id == GUEST_KERNEL_ID
        image = dict(lab_image(image_id),
                     name='nova-drs-lab-guest-%s'
                     % ('kernel' if kernel else 'ramdisk'),
                     disk_format='aki' if kernel else 'ari',
                     container_format='aki' if kernel else 'ari',
                     size=_file_size(_guest_file(image_id)))
    else:
        return None
    return image


def _image(image_id):
    return guest_image(image_id) or lab_image(image_id)


def _file(start_response, image_id):
    if image_id == GUEST_IMAGE_ID:
        chunks = [b'\0' * GUEST_DISK_SIZE]
    else:
        path = _guest_file(image_id)
        try:
            with open(path or '', 'rb') as f:
                chunks = [f.read()]
        except OSError as e:
            return _json(start_response, '404 Not Found',
                         {'error': 'nova lab stub: no data for image %s '
                                   '(%s)' % (image_id, e)})
    start_response('200 OK', [
        ('Content-Type', 'application/octet-stream'),
        ('Content-Length', str(len(chunks[0])))])
    return chunks


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
            return _json(start_response, '200 OK', {'images': [
                lab_image(), guest_image(GUEST_IMAGE_ID),
                guest_image(GUEST_KERNEL_ID),
                guest_image(GUEST_RAMDISK_ID)]})
        found = _IMAGE_PATH.match(path)
        if found:
            return _json(start_response, '200 OK', _image(found.group(1)))
        found = _FILE_PATH.match(path)
        if found:
            return _file(start_response, found.group(1))
        if path == '/v2.0/extensions':
            return _json(start_response, '200 OK', {'extensions': []})
        found = _COLLECTION_PATH.match(path)
        if found:
            key = found.group(1).replace('-', '_')
            return _json(start_response, '200 OK', {key: []})
    return _json(start_response, '404 Not Found',
                 {'error': 'nova lab stub: no %s %s' % (method, path)})
