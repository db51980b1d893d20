# SPDX-License-Identifier: Apache-2.0
"""Request bodies: chunked, cut short, too large, nested too deep.

A body is read whole or refused, never taken as empty: an evacuation
sent with ``{"apply": false}`` in a body the server could not read must
not be stored as one that applies (the default).
"""

import io

from oslo_serialization import jsonutils
import testtools
import webob

from nova_drs.api import body
from nova_drs.api import chunked
from nova_drs.db import models
from tests.unit.api import base
from tests.unit.db import test_host_states

A = base.ADMIN
EVACUATE = '/v1/hosts/host-1/evacuate'


def chunks(data, size=5):
    """``data`` in the chunked transfer coding."""
    out = b''
    for n in range(0, len(data), size):
        part = data[n:n + size]
        out += b'%x\r\n%s\r\n' % (len(part), part)
    return out + b'0\r\n\r\n'


class BodyCase(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.db.save_host_states([test_host_states.host_state('host-1')],
                                 'replica-a')

    def send(self, method, path, raw, environ=None, app=None):
        """Send ``raw`` as ``wsgi.input`` with the given environ."""
        req = webob.Request.blank(path, method=method, headers=A)
        req.environ['wsgi.input'] = io.BytesIO(raw)
        req.environ.pop('CONTENT_LENGTH', None)
        req.environ['CONTENT_TYPE'] = 'application/json'
        req.environ.update(environ or {})
        resp = req.get_response(app or self.app)
        data = jsonutils.loads(resp.body)
        base.checker().check(method, path, resp.status_int, data)
        self.assertNotIn('Traceback', resp.text)
        return resp.status_int, data

    def requests(self):
        return self.db.list_plan_requests(kind=models.REQUEST_EVACUATION)


class TestChunked(BodyCase):

    def test_read_when_the_server_dechunked_it(self):
        status, data = self.send('POST', EVACUATE, b'{"apply": false}', {
            'HTTP_TRANSFER_ENCODING': 'chunked',
            'wsgi.input_terminated': True})
        self.assertEqual(202, status, data)
        self.assertFalse(data['plan_request']['apply'])
        (row,) = self.requests()
        self.assertFalse(row.apply)

    def test_raw_chunks_through_the_dechunking_wrapper(self):
        app = chunked.dechunking(self.app)
        status, data = self.send(
            'POST', EVACUATE, chunks(b'{"apply": false}'),
            {'HTTP_TRANSFER_ENCODING': 'Chunked'}, app=app)
        self.assertEqual(202, status, data)
        self.assertEqual([False], [r.apply for r in self.requests()])

    def test_refused_with_411_when_the_server_cannot(self):
        # e.g. uWSGI: the application would see no body at all
        status, data = self.send('POST', EVACUATE, b'{"apply": false}', {
            'HTTP_TRANSFER_ENCODING': 'chunked'})
        self.assertEqual(411, status, data)
        self.assertIn('Content-Length', data['error']['message'])
        self.assertEqual([], self.requests())

    def test_framing_that_disagrees_is_400(self):
        for environ, word in (
                ({'HTTP_TRANSFER_ENCODING': 'chunked',
                  'wsgi.input_terminated': True, 'CONTENT_LENGTH': '16'},
                 'both'),
                ({'HTTP_TRANSFER_ENCODING': 'gzip, chunked',
                  'wsgi.input_terminated': True}, 'not supported')):
            status, data = self.send('POST', EVACUATE, b'{"apply": false}',
                                     environ)
            self.assertEqual(400, status, data)
            self.assertIn(word, data['error']['message'])
        self.assertEqual([], self.requests())

    def test_malformed_chunks_are_400(self):
        app = chunked.dechunking(self.app)
        for raw in (b'zz\r\n{}\r\n0\r\n\r\n',           # not hex
                    b'10\r\n{"apply": fa',               # cut short
                    b'2\r\n{}XX0\r\n\r\n',               # no CRLF
                    b'0x2\r\n{}\r\n0\r\n\r\n'):          # 0x prefix
            status, data = self.send('POST', EVACUATE, raw, {
                'HTTP_TRANSFER_ENCODING': 'chunked'}, app=app)
            self.assertEqual(400, status, (raw, data))
            self.assertIn('could not be read', data['error']['message'])
        self.assertEqual([], self.requests())


class TestLengthAndSize(BodyCase):

    def test_a_body_cut_short_is_400_and_applies_nothing(self):
        status, data = self.send('POST', EVACUATE, b'{"apply": f',
                                 {'CONTENT_LENGTH': '16'})
        self.assertEqual(400, status, data)
        self.assertIn('could not be read', data['error']['message'])
        self.assertEqual([], self.requests())

    def test_content_length_is_read(self):
        status, data = self.send('POST', EVACUATE, b'{"apply": false}',
                                 {'CONTENT_LENGTH': '16'})
        self.assertEqual(202, status, data)
        self.assertEqual([False], [r.apply for r in self.requests()])

    def test_no_body_takes_the_default(self):
        status, data = self.send('POST', EVACUATE, b'')
        self.assertEqual(202, status, data)
        self.assertTrue(data['plan_request']['apply'])

    def test_too_large(self):
        big = b'{"strategy": "%s"}' % (b'x' * body.MAX_BYTES)
        for environ in ({'CONTENT_LENGTH': str(len(big))},
                        {'HTTP_TRANSFER_ENCODING': 'chunked',
                         'wsgi.input_terminated': True}):
            status, data = self.send('POST', '/v1/plans', big, environ)
            self.assertEqual(400, status, data)
            self.assertIn('larger than', data['error']['message'])


class TestDepth(BodyCase):

    def post(self, text):
        raw = text.encode('utf-8')
        return self.send('POST', '/v1/plans', raw,
                         {'CONTENT_LENGTH': str(len(raw))})

    def test_deep_nesting_is_a_400_not_a_500(self):
        for text in ('[' * 5000 + ']' * 5000, '{"a":' * 5000 + '1' +
                     '}' * 5000, '[' * 60000):
            status, data = self.post(text)
            self.assertEqual(400, status, data)
            self.assertIn('more than %d deep' % body.MAX_DEPTH,
                          data['error']['message'])

    def test_the_bound(self):
        nested = '{"strategy": %s}'
        status, data = self.post(nested % ('[' * 31 + ']' * 31))
        # 32 deep: parsed, then refused by the schema
        self.assertEqual(400, status)
        self.assertIn('strategy', data['error']['message'])
        status, data = self.post(nested % ('[' * 32 + ']' * 32))
        self.assertIn('deep', data['error']['message'])

    def test_brackets_in_strings_do_not_count(self):
        status, data = self.post('{"strategy": "%s"}' % ('[{' * 30))
        self.assertEqual(400, status)
        self.assertIn('installed', data['error']['message'])


class TestDepthFunction(testtools.TestCase):

    def test_depth(self):
        for text, expected in (('{}', 1), ('[]', 1), ('1', 0),
                               ('[1, [2, [3]], {"x": []}]', 3),
                               ('["[[[", "\\"[["]', 1),
                               ('["unterminated [[[', 1)):
            self.assertEqual(expected, body.depth(text), text)
        self.assertEqual(body.MAX_DEPTH + 1, body.depth('[' * 10 ** 5))


class TestChunkedInput(testtools.TestCase):

    def test_reads_across_chunks_extensions_and_trailers(self):
        reader = chunked.ChunkedInput(io.BytesIO(
            b'4\r\nWiki\r\n5;name=value\r\npedia\r\n0\r\nX-T: 1\r\n\r\n'
            b'NEXT REQUEST'))
        self.assertEqual(b'Wik', reader.read(3))
        self.assertEqual(b'ipedia', reader.read())
        self.assertEqual(b'', reader.read(10))

    def test_errors(self):
        for raw in (b'', b'4\r\nWi', b'4\r\nWikiXX', b'-4\r\n',
                    b'4' * 5000 + b'\r\n'):
            reader = chunked.ChunkedInput(io.BytesIO(raw))
            self.assertRaises(chunked.ChunkError, reader.read)
