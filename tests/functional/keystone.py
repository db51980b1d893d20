# SPDX-License-Identifier: Apache-2.0
"""The Nova lab's Keystone, for tests that need real tokens.

The lab (tools/lab/nova-start.sh, doc/source/nova-lab.rst) runs Keystone on
127.0.0.1:5000 with a catalog whose ``compute`` endpoint is a nova-api
behind keystonemiddleware (127.0.0.1:8784), and writes a ``clouds.yaml``
with one cloud per lab user; the passwords live there (and in the lab's
scripts) only. This module reads it:

* :func:`ensure_keystone` starts (or restarts) the lab when it runs
  without Keystone, as the Nova fixtures do when it does not run;
* :func:`identity` gets a real token for a cloud (user and scope);
* :func:`expired_token` gets a token that really expired (issued for an
  application credential that expires a few seconds later);
* :func:`set_endpoints` points a service of the catalog elsewhere (the
  ``drs`` service at the nova-drs API a test runs);
* :func:`service_conf` writes keystonemiddleware's and a keystoneauth
  group's options for the lab's service user ``nova-drs``;
* :func:`openstack_env` is the environment of ``openstack --os-cloud``;
* :class:`KeystoneLabTestCase` holds the lab for a test class and gives
  it a nova-drs database, a ``nova-drs-api`` on Keystone and a server
  booted by a project member.
"""

import datetime
import os
import time
import unittest
import uuid

import fixtures
import openstack
from openstack import config as os_config
from oslotest import base as oslo_base
import requests
import yaml

from nova_drs.db import api as db_api
from nova_drs.db import migration
from tests.functional.api import base as api_base
from tests.functional.nova import fixtures as nova_fixtures

LAB_RUN = os.environ.get('NOVA_DRS_LAB_RUN', '/tmp/nova-drs-lab')
#: written by tools/lab/nova_lab_keystone.py at each lab start
CLOUDS_FILE = os.path.join(LAB_RUN, 'nova', 'etc', 'clouds.yaml')
KEYSTONE_URL = 'http://127.0.0.1:5000'
#: the catalog's compute endpoint: Nova validating real tokens
NOVA_KEYSTONE_URL = 'http://127.0.0.1:8784/v2.1'

#: the clouds of the lab users (tools/lab/nova_lab_keystone.py)
ADMIN = 'drs-admin'                  # admin on project "admin"
SYSTEM_ADMIN = 'drs-system-admin'    # drs-admin, system-scoped token
ALPHA_MEMBER = 'alpha-member'        # member of drs-alpha
ALPHA_READER = 'alpha-reader'        # reader of drs-alpha
BETA_MEMBER = 'beta-member'          # member of drs-beta
SERVICE = 'nova-drs'                 # the nova-drs service user
#: what tests create in Keystone is named so (and removed by them)
PREFIX = 'drs-ft-'

TIMEOUT = 30


class Identity:
    """A real token of one lab cloud, with what Keystone said about it."""

    def __init__(self, cloud, token, body):
        self.cloud = cloud
        self.token = token
        self.user_id = body['user']['id']
        self.project_id = (body.get('project') or {}).get('id')
        self.system = 'system' in body
        self.roles = sorted(r['name'] for r in body.get('roles', ()))
        self.expires_at = body['expires_at']
        self.catalog = body.get('catalog', [])

    @property
    def headers(self):
        return {'X-Auth-Token': self.token}

    def endpoint(self, service_type, interface='public'):
        for service in self.catalog:
            if service['type'] == service_type:
                for endpoint in service['endpoints']:
                    if endpoint['interface'] == interface:
                        return endpoint['url']
        return None


def clouds():
    """The lab's clouds.yaml ({name: cloud})."""
    with open(CLOUDS_FILE, encoding='utf-8') as f:
        return yaml.safe_load(f)['clouds']


def _auth_request(body):
    resp = requests.post(KEYSTONE_URL + '/v3/auth/tokens',
                         json={'auth': body}, timeout=TIMEOUT)
    if resp.status_code != 201:
        raise AssertionError('Keystone refused %s: %s %s'
                             % (body.get('identity', {}).get('methods'),
                                resp.status_code, resp.text[:300]))
    return resp.headers['X-Subject-Token'], resp.json()['token']


def identity(cloud):
    """A fresh token for ``cloud`` (password authentication)."""
    auth = clouds()[cloud]['auth']
    user = {'name': auth['username'], 'password': auth['password'],
            'domain': {'id': auth['user_domain_id']}}
    if auth.get('system_scope'):
        scope = {'system': {'all': True}}
    else:
        scope = {'project': {'name': auth['project_name'],
                             'domain': {'id': auth['project_domain_id']}}}
    token, body = _auth_request({
        'identity': {'methods': ['password'], 'password': {'user': user}},
        'scope': scope})
    return Identity(cloud, token, body)


def _keystone(method, path, who, **kwargs):
    resp = requests.request(method, KEYSTONE_URL + path, headers=who.headers,
                            timeout=TIMEOUT, **kwargs)
    if resp.status_code >= 400:
        raise AssertionError('Keystone: %s %s: %s %s' % (
            method, path, resp.status_code, resp.text[:300]))
    return resp.json() if resp.content else None


def expired_token(cloud, lifetime=2.0):
    """A token of ``cloud``'s user that expired, and its cleanup.

    Keystone ends the token of an application credential when the
    credential expires: the token is issued for a credential that expires
    ``lifetime`` seconds later, then this waits until it has. Returns
    (:class:`Identity`, ``cleanup()`` that deletes the credential: until
    then the token is refused for its expiry alone).
    """
    who = identity(cloud)
    expires = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(seconds=lifetime))
    path = '/v3/users/%s/application_credentials' % who.user_id
    credential = _keystone('POST', path, who, json={
        'application_credential': {
            'name': PREFIX + uuid.uuid4().hex[:12],
            'expires_at': expires.strftime('%Y-%m-%dT%H:%M:%S.%f')}},
    )['application_credential']

    def cleanup():
        _keystone('DELETE', '%s/%s' % (path, credential['id']),
                  identity(cloud))

    try:
        token, body = _auth_request({'identity': {
            'methods': ['application_credential'],
            'application_credential': {'id': credential['id'],
                                       'secret': credential['secret']}}})
        expired = Identity(cloud, token, body)
        ends = datetime.datetime.fromisoformat(
            expired.expires_at.replace('Z', '+00:00'))
        if ends > expires + datetime.timedelta(seconds=1):
            raise AssertionError('Keystone issued a token beyond its '
                                 'credential\'s expiry: %s > %s'
                                 % (ends, expires))
        delay = ends - datetime.datetime.now(datetime.timezone.utc)
        time.sleep(max(0.0, delay.total_seconds()) + 1.0)
    except BaseException:
        cleanup()
        raise
    return expired, cleanup


def set_endpoints(service_type, url):
    """Point every endpoint of ``service_type`` at ``url``."""
    admin = identity(SYSTEM_ADMIN)
    services = _keystone('GET', '/v3/services', admin,
                         params={'type': service_type})['services']
    if not services:
        raise AssertionError('the lab\'s catalog has no %s service'
                             % service_type)
    endpoints = _keystone('GET', '/v3/endpoints', admin, params={
        'service_id': services[0]['id']})['endpoints']
    for endpoint in endpoints:
        if endpoint['url'] != url:
            _keystone('PATCH', '/v3/endpoints/%s' % endpoint['id'], admin,
                      json={'endpoint': {'url': url}})


def missing():
    """None when the lab's Keystone is usable, else what is missing."""
    try:
        who = identity(ALPHA_MEMBER)
    except (OSError, KeyError, ValueError, TypeError, AssertionError,
            requests.RequestException) as e:
        return 'no usable Keystone in the Nova lab (%s)' % e
    if who.endpoint('compute') != NOVA_KEYSTONE_URL:
        return 'the catalog\'s compute endpoint is %s, not %s' % (
            who.endpoint('compute'), NOVA_KEYSTONE_URL)
    if who.endpoint('drs') is None:
        return 'the catalog has no drs endpoint'
    return None


def ensure_keystone():
    """Start the lab, or restart one started without Keystone.

    Call it without holding the lab (nova-start.sh waits for the Nova test
    of another process to finish before it restarts the lab).

    :raises nova_fixtures.LabUnavailable: with the reason
    """
    reason = missing()
    if reason is None:
        return
    nova_fixtures.start_lab()
    reason = missing()
    if reason is not None:
        raise nova_fixtures.LabUnavailable(
            'the Nova lab started, but %s' % reason)


def service_conf(group):
    """keystoneauth options of the lab's ``nova-drs`` user for ``group``.

    Password authentication, project ``service``.
    """
    auth = clouds()[SERVICE]['auth']
    return ('[%s]\n'
            'auth_type = password\n'
            'auth_url = %s\n'
            'username = %s\n'
            'password = %s\n'
            'user_domain_id = %s\n'
            'project_name = %s\n'
            'project_domain_id = %s\n'
            % (group, KEYSTONE_URL, auth['username'], auth['password'],
               auth['user_domain_id'], auth['project_name'],
               auth['project_domain_id']))


def authtoken_conf():
    """``[keystone_authtoken]`` of an API service run by a test."""
    return (service_conf('keystone_authtoken')
            + 'www_authenticate_uri = %s\n' % KEYSTONE_URL)


def openstack_env(cloud, home):
    """The environment of ``openstack --os-cloud`` (no other OS_*)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('OS_', 'NOVA_DRS_NOAUTH'))}
    env.update(OS_CLIENT_CONFIG_FILE=CLOUDS_FILE, OS_CLOUD=cloud,
               HOME=home)
    return env


class KeystoneLabTestCase(oslo_base.BaseTestCase):
    """Tests on the lab's Keystone; the lab is held for the whole class.

    :meth:`start_class` (a class method the test class writes) makes what
    the class needs with :meth:`use`, :meth:`database`,
    :meth:`start_api` and :meth:`boot_server`; ``cls.lab`` is the lab's
    Nova as admin (the no-auth nova-api: flavors, leftovers, what a server
    really is), ``cls.tmp`` a directory of the class.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if nova_fixtures.skip_requested():
            raise unittest.SkipTest('NOVA_DRS_SKIP_NOVA=1')
        # (re)started without holding the lab: nova-start.sh waits for the
        # Nova tests of other processes
        ensure_keystone()
        cls._class_cleanups = []
        cls._release = nova_fixtures.lock_lab()
        try:
            cls.tmp = cls.use(fixtures.TempDir()).path
            cls.lab = cls.use(nova_fixtures.NovaLab())
            cls.lab.ensure_ready()
            cls.start_class()
        except BaseException:
            cls._stop_class()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._stop_class()
        super().tearDownClass()

    @classmethod
    def start_class(cls):
        """What the class needs (to be written by the test class)."""

    @classmethod
    def _stop_class(cls):
        errors = []
        for cleanup in reversed(cls._class_cleanups):
            try:
                cleanup()
            except Exception as e:     # reported after the others ran
                errors.append(repr(e))
        cls._class_cleanups = []
        cls._release()
        if errors:
            raise AssertionError('cleanup failed: %s' % '; '.join(errors))

    @classmethod
    def add_class_cleanup(cls, function):
        cls._class_cleanups.append(function)

    @classmethod
    def use(cls, fixture):
        """Set ``fixture`` up for the class; cleaned up after it."""
        fixture.setUp()
        cls.add_class_cleanup(fixture.cleanUp)
        return fixture

    @classmethod
    def database(cls):
        """(a migrated SQLite nova-drs database, its URL)."""
        url = 'sqlite:///' + os.path.join(cls.tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        db = db_api.Database(connection=url)
        cls.add_class_cleanup(db.dispose)
        return db, url

    @classmethod
    def start_api(cls, database_url):
        """``nova-drs-api`` behind keystonemiddleware, in the catalog.

        Its ``[keystone_authtoken]`` and ``[drs_nova]`` are the lab's
        service user nova-drs (the balancer's own credentials, which the
        API must never use for a caller); the catalog's ``drs`` endpoint
        is pointed at it (for ``openstack drs``).
        """
        api = cls.use(api_base.ApiServer(database_url, extra_conf=(
            '[drs_api]\nauth_strategy = keystone\n'
            + authtoken_conf() + service_conf('drs_nova')
            + 'region_name = RegionOne\n')))
        set_endpoints('drs', api.url)
        return api

    @classmethod
    def boot_server(cls, cloud, name):
        """A server booted by ``cloud``'s user through the keystone Nova.

        Named ``name`` after the Nova fixtures' prefix (their leftovers
        cleanup removes it after an interrupted run); deleted after the
        class. Returns it as an admin sees it (``compute_host``).
        """
        flavor = cls.lab.flavor('keystone', vcpus=1, ram=128)
        config = os_config.OpenStackConfig(
            config_files=[CLOUDS_FILE]).get_one(cloud)
        conn = openstack.connection.Connection(config=config)
        cls.add_class_cleanup(conn.close)
        server = conn.compute.create_server(
            name=nova_fixtures.PREFIX + name, flavor_id=flavor.id,
            image_id=nova_fixtures.IMAGE_ID, networks='none')
        cls.add_class_cleanup(lambda: cls.lab.delete_server(server))
        conn.compute.wait_for_server(server, status='ACTIVE', interval=0.3,
                                     wait=120)
        return cls.lab.conn.compute.get_server(server.id)
