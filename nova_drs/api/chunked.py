# SPDX-License-Identifier: Apache-2.0
"""De-chunking a request body for a WSGI server that hands over the socket.

The development server ``nova-drs-api`` (wsgiref) gives the application
the raw connection as ``wsgi.input``, chunk sizes included.
:func:`dechunking` wraps an application so that a ``Transfer-Encoding:
chunked`` body is read through :class:`ChunkedInput` (RFC 9112 7.1: hex
size lines, chunk extensions and trailers ignored) and says so with
``wsgi.input_terminated``, which :mod:`nova_drs.api.body` requires before
it reads a chunked body. Only for servers that pass the raw stream: one
that de-chunks itself sets ``wsgi.input_terminated`` and is left alone.
"""

import re

#: the longest chunk-size or trailer line read (extensions included)
MAX_LINE = 4096
_SIZE = re.compile(rb'^[0-9A-Fa-f]{1,16}$')


class ChunkError(ValueError):
    """The chunked body is malformed or cut short."""


class ChunkedInput:
    """A file-like reader of the chunked body on ``stream``."""

    def __init__(self, stream):
        self._stream = stream
        self._left = 0          # bytes left in the current chunk
        self._done = False

    def _line(self):
        line = self._stream.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ChunkError('chunk-size line longer than %d bytes'
                             % MAX_LINE)
        if not line.endswith(b'\n'):
            raise ChunkError('the chunked body ends before its last chunk')
        return line.rstrip(b'\r\n')

    def _next_chunk(self):
        size_text = self._line().split(b';', 1)[0].strip()
        if not _SIZE.match(size_text):
            raise ChunkError('invalid chunk size %r' % size_text[:20])
        size = int(size_text, 16)
        if size == 0:
            # the trailer section, up to an empty line
            while self._line():
                pass
            self._done = True
        self._left = size

    def read(self, size=-1):
        """Up to ``size`` bytes of the body (all of it when negative)."""
        parts = []
        wanted = size if size is not None and size >= 0 else None
        while not self._done and (wanted is None or wanted > 0):
            if self._left == 0:
                self._next_chunk()
                continue
            ask = self._left if wanted is None else min(self._left, wanted)
            data = self._stream.read(ask)
            if not data:
                raise ChunkError('the chunked body ends inside a chunk')
            parts.append(data)
            self._left -= len(data)
            if wanted is not None:
                wanted -= len(data)
            if self._left == 0 and self._stream.read(2) != b'\r\n':
                raise ChunkError('a chunk does not end with CRLF')
        return b''.join(parts)


def is_chunked(environ):
    coding = environ.get('HTTP_TRANSFER_ENCODING', '')
    return coding.strip().lower() == 'chunked'


def dechunking(app):
    """``app`` reading chunked bodies from a server that does not."""
    def wrapped(environ, start_response):
        if (is_chunked(environ)
                and not environ.get('wsgi.input_terminated')
                and not environ.get('CONTENT_LENGTH')):
            environ['wsgi.input'] = ChunkedInput(environ['wsgi.input'])
            environ['wsgi.input_terminated'] = True
        return app(environ, start_response)
    return wrapped
