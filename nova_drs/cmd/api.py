# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-api``: the API on a development server.

For development and tests: a threaded wsgiref server (one thread per
request). Production runs ``nova_drs.wsgi.api:application`` under uWSGI
(doc/source/api.rst). ``--port 0`` picks a free port; the address actually used
is printed on standard output once the server listens.

What the server itself refuses (a malformed request line, a request line
or header over 64 KiB, too many headers) is answered in the API's JSON
error shape, not the standard library's HTML page; chunked request bodies
are de-chunked (:mod:`nova_drs.api.chunked`).
"""

import argparse
import signal
import socketserver
import sys
import threading
from wsgiref import simple_server

from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova_drs.api import app as app_mod
from nova_drs.api import chunked
from nova_drs.api import errors
from nova_drs.api import microversion
from nova_drs import config

LOG = logging.getLogger(__name__)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        # NOTE: through oslo.log, not to stderr unconditionally
        LOG.info('%s %s', self.address_string(), format % args)

    def send_error(self, code, message=None, explain=None):
        """What the server refuses, in the API's JSON error shape.

        http.server's own sends an HTML page; the message here is the
        specific one (e.g. "Bad request version ('HTTP/9')").
        """
        self.log_error('code %d, message %s', code, message)
        if self.request_version == 'HTTP/0.9':
            # NOTE: http.server assumes 0.9 until the request line is
            # parsed, and writes a 0.9 answer (no status, no headers)
            # for a line it refuses; nobody speaks 0.9 any more
            self.request_version = 'HTTP/1.0'
        self.send_response(code)
        self.send_header('Connection', 'close')
        body = jsonutils.dump_as_bytes({'error': {
            'code': code, 'title': errors.title(code),
            'message': message or errors.title(code)}})
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        for name, value in microversion.response_headers(
                microversion.MIN_VERSION).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='nova-drs-api',
        description='Run the nova-drs REST API on a development server.')
    parser.add_argument('--config-file', action='append', default=[],
                        metavar='PATH',
                        help='configuration file (repeatable; later files '
                             'win)')
    parser.add_argument('--config-dir', action='append', default=[],
                        metavar='DIR',
                        help='directory of *.conf configuration files')
    parser.add_argument('--host', help='address to listen on (default: '
                                       '[drs_api] host)')
    parser.add_argument('--port', type=int, help='port to listen on, 0 for '
                                                 'any free port (default: '
                                                 '[drs_api] port)')
    return parser.parse_args(argv)


def serve(conf, host, port, ready=None):
    """Serve until SIGTERM/SIGINT; ``ready(url)`` once listening."""
    application = app_mod.create_app(conf)
    server = simple_server.make_server(host, port,
                                       chunked.dechunking(application),
                                       server_class=_Server,
                                       handler_class=_Handler)
    stop = threading.Event()

    def shutdown(signum, frame):
        stop.set()
        # NOTE: shutdown() waits for serve_forever, which runs in this
        # thread: ask from another one
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    url = 'http://%s:%d' % server.server_address[:2]
    LOG.info('nova-drs-api listening on %s', url)
    if ready is not None:
        ready(url)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        application.services.close()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        conf = config.load(args.config_file, args.config_dir)
    except config.ConfigError as e:
        print('nova-drs-api: error: %s' % e, file=sys.stderr)
        return 2
    logging.setup(conf, config.PROJECT)
    config.log_settings(conf, LOG)
    host = args.host if args.host is not None else conf.drs_api.host
    port = args.port if args.port is not None else conf.drs_api.port
    if not 0 <= port <= 65535:
        print('nova-drs-api: error: --port %d is not a TCP port' % port,
              file=sys.stderr)
        return 2

    def ready(url):
        print('nova-drs-api: listening on %s' % url, flush=True)
    try:
        serve(conf, host, port, ready)
    except OSError as e:
        print('nova-drs-api: error: cannot listen on %s:%d: %s'
              % (host, port, e.strerror or e), file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
