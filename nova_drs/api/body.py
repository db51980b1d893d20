# SPDX-License-Identifier: Apache-2.0
"""Reading a request's JSON body: framing, size and depth bounds.

A body is read whole or the request is refused; it is never silently
taken as empty. With ``Content-Length`` exactly that many bytes are read
(a client that sends fewer gets a 400). With ``Transfer-Encoding:
chunked`` the body is read to its end when the WSGI server de-chunks it
(it says so with ``wsgi.input_terminated``: the development server
``nova-drs-api``, gunicorn, mod_wsgi with ``WSGIChunkedRequest On``), and
refused with 411 otherwise (uWSGI without its chunked API): a server that
does not de-chunk hands the application no body, and an evacuation whose
``{"apply": false}`` was lost would be applied. A request with neither
header has no body.

JSON is bounded in size (:data:`MAX_BYTES`) and nesting
(:data:`MAX_DEPTH`): the depth is measured before parsing, so that a body
nested thousands deep is a 400 rather than a recursion error.
"""

import re

from oslo_serialization import jsonutils

from nova_drs.api import errors

#: the largest request body accepted (the biggest valid one is ~100 bytes)
MAX_BYTES = 64 * 1024
#: the deepest nesting of arrays and objects accepted (valid bodies: 1)
MAX_DEPTH = 32

#: bytes asked of the input stream at a time
_READ_SIZE = 16 * 1024
#: one token of JSON text for measuring depth: a whole string (escapes
#: included), a run of other characters, or one bracket
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^"\[\]{}]+|[\[\]{}]')
_OPENING = frozenset('[{')
_CLOSING = frozenset(']}')


def _framing(environ):
    """``'chunked'``, ``'length'`` or None (no body); refuses the rest."""
    coding = environ.get('HTTP_TRANSFER_ENCODING')
    length = environ.get('CONTENT_LENGTH')
    if coding is None:
        return 'length' if length not in (None, '') else None
    if coding.strip().lower() != 'chunked':
        raise errors.BadRequest(
            'Transfer-Encoding %r is not supported: send the body with '
            'Content-Length, or with Transfer-Encoding: chunked alone'
            % coding)
    if length not in (None, ''):
        # NOTE: the two disagree on where the body ends (RFC 9112 6.1:
        # a request smuggling vector); refuse rather than pick one
        raise errors.BadRequest('a request must not have both '
                                'Transfer-Encoding and Content-Length')
    if not environ.get('wsgi.input_terminated'):
        raise errors.LengthRequired(
            'this server cannot read a chunked request body: send it with '
            'a Content-Length header')
    return 'chunked'


def _read(stream, limit):
    """Up to ``limit + 1`` bytes of ``stream``, to its end."""
    parts, size = [], 0
    while size <= limit:
        chunk = stream.read(min(_READ_SIZE, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b''.join(parts)


def raw(req, max_bytes=MAX_BYTES):
    """The request's body as bytes (``b''`` when it has none).

    :raises errors.BadRequest: too large, cut short, badly framed
    :raises errors.LengthRequired: chunked, and the server cannot read it
    """
    framing = _framing(req.environ)
    if framing is None:
        return b''
    if framing == 'length':
        length = req.content_length
        if length is not None and length > max_bytes:
            raise errors.BadRequest('request body larger than %d bytes'
                                    % max_bytes)
        stream = req.body_file
    else:
        stream = req.environ['wsgi.input']
    try:
        data = _read(stream, max_bytes)
    except (OSError, ValueError) as e:
        # webob's DisconnectionError (an OSError) when fewer bytes than
        # Content-Length came; a malformed chunk from the de-chunker
        raise errors.BadRequest('the request body could not be read: %s'
                                % e) from None
    if len(data) > max_bytes:
        raise errors.BadRequest('request body larger than %d bytes'
                                % max_bytes)
    return data


def depth(text):
    """How deeply arrays and objects nest in the JSON ``text``.

    Brackets inside strings do not count. The scan stops as soon as the
    depth passes :data:`MAX_DEPTH`, and at a string that never ends (the
    text is not JSON: parsing says what is wrong), so that it stays
    linear in the length of any text.
    """
    deepest = level = pos = 0
    end = len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            break
        pos = match.end()
        piece = match.group()
        if piece in _OPENING:
            level += 1
            if level > deepest:
                deepest = level
                if deepest > MAX_DEPTH:
                    break
        elif piece in _CLOSING:
            level -= 1
    return deepest


def parse_json(data, content_type):
    """The JSON document of a body (``{}`` when the body is empty).

    :raises errors.BadRequest: not JSON, or nested deeper than
        :data:`MAX_DEPTH`
    :raises errors.UnsupportedMediaType: not ``application/json``
    """
    if not data.strip():
        return {}
    if content_type not in ('application/json', ''):
        raise errors.UnsupportedMediaType(
            'request bodies must be application/json, not %s'
            % content_type)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        raise errors.BadRequest('request body is not valid JSON: %s'
                                % e) from None
    if depth(text) > MAX_DEPTH:
        raise errors.BadRequest('request body nests arrays and objects '
                                'more than %d deep' % MAX_DEPTH)
    try:
        return jsonutils.loads(text)
    except (ValueError, RecursionError) as e:
        raise errors.BadRequest('request body is not valid JSON: %s'
                                % e) from None
