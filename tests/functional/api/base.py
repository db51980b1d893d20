# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-api`` as a real WSGI server process, for functional tests.

:class:`ApiServer` writes a configuration (``noauth``, a database URL, a
tooz file backend in the test's directory, plus extra sections), starts
``nova-drs-api --port 0`` as a subprocess, waits for the line that says
where it listens, and stops it (SIGTERM) at cleanup. Every JSON answer
received through :meth:`ApiServer.call` is checked against the OpenAPI
document.
"""

import os
import subprocess
import sys
import threading
import time

import fixtures
import requests

from tests.unit.api import openapi_check

START_TIMEOUT = 60
STOP_TIMEOUT = 10

ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'admin-project',
         'X-User-Id': 'admin-user'}
MEMBER = {'X-Roles': 'member', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'member-user'}
READER = {'X-Roles': 'reader', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'reader-user'}

_checker = None


def checker():
    global _checker
    if _checker is None:
        _checker = openapi_check.ResponseChecker()
    return _checker


class ApiServer(fixtures.Fixture):
    """A running ``nova-drs-api``; ``url`` is its base URL.

    :param database_url: the (migrated) database the API reads
    :param extra_conf: appended to the configuration file
    """

    def __init__(self, database_url, extra_conf=''):
        super().__init__()
        self.database_url = database_url
        self.extra_conf = extra_conf

    def _setUp(self):
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.coordination_dir = os.path.join(self.tmp, 'coordination')
        os.mkdir(self.coordination_dir)
        self.conf_path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(self.conf_path, 'w', encoding='utf-8') as f:
            f.write('[DEFAULT]\nlog_file = %s\n'
                    '[drs_api]\nauth_strategy = noauth\n'
                    '[drs_database]\nconnection = %s\n'
                    '[drs_coordination]\nbackend_url = file://%s\n%s'
                    % (os.path.join(self.tmp, 'api.log'), self.database_url,
                       self.coordination_dir, self.extra_conf))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'nova_drs.cmd.api', '--config-file',
             self.conf_path, '--host', '127.0.0.1', '--port', '0'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self._stop)
        self.url = self._wait_listening()
        self.session = requests.Session()
        self.addCleanup(self.session.close)

    def _wait_listening(self):
        found = {}

        def read():
            line = self.proc.stdout.readline()
            found['line'] = line

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        line = found.get('line') or ''
        prefix = 'nova-drs-api: listening on '
        if not line.startswith(prefix):
            self.proc.kill()
            _out, err = self.proc.communicate(timeout=STOP_TIMEOUT)
            raise AssertionError('nova-drs-api did not start: %r\n%s'
                                 % (line, err))
        return line[len(prefix):].strip()

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def log(self):
        with open(os.path.join(self.tmp, 'api.log'), encoding='utf-8') as f:
            return f.read()

    def call(self, method, path, headers=None, json=None, check=True,
             **kwargs):
        """(status, decoded JSON or None, response)."""
        resp = self.session.request(method, self.url + path,
                                    headers=headers, json=json, timeout=30,
                                    **kwargs)
        data = None
        if resp.headers.get('Content-Type', '').startswith(
                'application/json'):
            data = resp.json()
            if check:
                checker().check(method, path, resp.status_code, data)
        return resp.status_code, data, resp


def wait_for(predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
