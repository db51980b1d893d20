# SPDX-License-Identifier: Apache-2.0
"""Serve one WSGI application of the Nova lab on a loopback port.

Usage::

    python nova_lab_wsgi.py HOST PORT package.module:attribute

nova-api and placement-api ship WSGI modules (``nova.wsgi.osapi_compute``,
``placement.wsgi.api``) meant for uWSGI or mod_wsgi; the lab needs neither:
the standard library's server, one thread per request, is plenty for a few
test clients. Two details matter:

* Nova's WSGI module parses ``sys.argv`` when it is imported, so the
  runner's own arguments are removed first;
* this directory goes on ``sys.path`` so that the lab's paste filter
  (``nova_lab_noauth``) and stub (``nova_lab_stub``) can be named in
  configuration.

Nothing else is imported before the application, so that Nova picks its
own concurrency mode (eventlet or threads) undisturbed.
"""

import importlib
import os
import socketserver
import sys
from wsgiref import simple_server


class _Handler(simple_server.WSGIRequestHandler):

    def log_message(self, format, *args):
        # Nova and Placement log each request themselves.
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # the default backlog of 5 is short for several concurrent clients
    request_queue_size = 64


def main(argv):
    if len(argv) != 4 or ':' not in argv[3]:
        sys.exit('usage: %s HOST PORT module:attribute' % argv[0])
    host, port, target = argv[1], int(argv[2]), argv[3]
    sys.argv = argv[:1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    module_name, _, attribute = target.partition(':')
    application = getattr(importlib.import_module(module_name), attribute)
    server = simple_server.make_server(
        host, port, application, server_class=_ThreadingServer,
        handler_class=_Handler)
    print('nova_lab_wsgi: serving %s on http://%s:%d/'
          % (target, host, port), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv)
