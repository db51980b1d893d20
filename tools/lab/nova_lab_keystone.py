# SPDX-License-Identifier: Apache-2.0
"""The Nova lab's Keystone: catalog, identities and a clouds.yaml.

Usage::

    python nova_lab_keystone.py setup KEYSTONE_URL CLOUDS_FILE WAIT \\
        TYPE=NAME=URL...
    python nova_lab_keystone.py check CLOUDS_FILE

``setup`` waits up to WAIT seconds for Keystone to answer, then makes
sure (idempotently: what exists is left as it is) that the lab has:

* a service and its public, internal and admin endpoints (region
  ``RegionOne``) for each ``TYPE=NAME=URL`` (compute, placement, image,
  network, drs);
* the projects and users of :data:`PROJECTS` and :data:`USERS`, with their
  role assignments (keystone's default roles: admin implies member implies
  reader);

and writes CLOUDS_FILE, a ``clouds.yaml`` with one cloud per user (the
entry ``drs-system-admin`` is drs-admin with a system-scoped token), for
openstacksdk, ``openstack --os-cloud NAME`` and the tests. It is written
as JSON, which YAML reads as it is.

``check`` exits 0 when Keystone issues a token to ``alpha-member`` and the
catalog's compute endpoint (the keystonemiddleware nova-api) accepts it.

The passwords come from the environment, set by nova-env.sh:
``NOVA_LAB_ADMIN_PASSWORD`` (the bootstrap admin), ``NOVA_LAB_SERVICE_
PASSWORD`` (users nova and nova-drs), ``NOVA_LAB_USER_PASSWORD`` (the test
users). FOR TESTS ONLY.

Standard library only, so that it runs before anything else is there.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DOMAIN = 'default'
REGION = 'RegionOne'
INTERFACES = ('public', 'internal', 'admin')

#: project name -> description
PROJECTS = {
    'service': 'The service users of the Nova lab',
    'drs-alpha': 'nova-drs tests: the project of the test servers',
    'drs-beta': 'nova-drs tests: another tenant',
}

#: user name -> (password variable, [(role, project or "system")])
USERS = {
    'nova': ('NOVA_LAB_SERVICE_PASSWORD',
             [('admin', 'service'), ('service', 'service')]),
    'nova-drs': ('NOVA_LAB_SERVICE_PASSWORD',
                 [('admin', 'service'), ('service', 'service')]),
    'drs-admin': ('NOVA_LAB_USER_PASSWORD',
                  [('admin', 'admin'), ('admin', 'system')]),
    'alpha-member': ('NOVA_LAB_USER_PASSWORD', [('member', 'drs-alpha')]),
    'beta-member': ('NOVA_LAB_USER_PASSWORD', [('member', 'drs-beta')]),
    'alpha-reader': ('NOVA_LAB_USER_PASSWORD', [('reader', 'drs-alpha')]),
}

#: the clouds of clouds.yaml: name -> (user, password variable, scope)
CLOUDS = {
    'admin': ('admin', 'NOVA_LAB_ADMIN_PASSWORD', 'admin'),
    'drs-system-admin': ('drs-admin', 'NOVA_LAB_USER_PASSWORD', 'system'),
}
CLOUDS.update((user, (user, variable, assignments[0][1]))
              for user, (variable, assignments) in USERS.items())


class KeystoneError(Exception):
    pass


def request(method, url, token=None, body=None, timeout=10):
    """(status, headers, decoded JSON or None) of one Keystone request."""
    headers = {'Accept': 'application/json'}
    if token:
        headers['X-Auth-Token'] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode('utf-8')
        headers['Content-Type'] = 'application/json'
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        raise KeystoneError('%s %s: %s %s'
                            % (method, url, e.code, raw[:300])) from None


def password(variable):
    value = os.environ.get(variable)
    if not value:
        raise KeystoneError('%s is not set (nova-env.sh sets it)' % variable)
    return value


def token(keystone_url, user, secret, scope):
    """(token, catalog) for a password authentication.

    :param scope: a project name, or ``system``
    """
    if scope == 'system':
        scope_body = {'system': {'all': True}}
    else:
        scope_body = {'project': {'name': scope, 'domain': {'id': DOMAIN}}}
    _status, headers, body = request(
        'POST', keystone_url + '/v3/auth/tokens', body={'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'domain': {'id': DOMAIN},
                'password': secret}}},
            'scope': scope_body}})
    return headers['X-Subject-Token'], body['token'].get('catalog', [])


class Keystone:
    """The identity API as the bootstrap admin (system scope)."""

    def __init__(self, url):
        self.url = url
        self.token, _ = token(url, 'admin',
                              password('NOVA_LAB_ADMIN_PASSWORD'), 'system')

    def list(self, collection, **query):
        path = '/v3/%s' % collection
        if query:
            path += '?' + urllib.parse.urlencode(query)
        return request('GET', self.url + path, self.token)[2][
            collection.split('/')[-1]]

    def create(self, collection, key, **attrs):
        return request('POST', '%s/v3/%s' % (self.url, collection),
                       self.token, {key: attrs})[2][key]

    def put(self, path):
        request('PUT', self.url + path, self.token)

    def one(self, collection, name, key, **attrs):
        """The named object, created with ``attrs`` when missing."""
        found = self.list(collection, name=name)
        if found:
            return found[0]
        return self.create(collection, key, name=name, **attrs)


def setup_catalog(ks, catalog):
    for entry in catalog:
        service_type, name, url = entry.split('=', 2)
        services = ks.list('services', type=service_type)
        service = services[0] if services else ks.create(
            'services', 'service', type=service_type, name=name,
            enabled=True)
        have = {e['interface']: e for e in ks.list(
            'endpoints', service_id=service['id'])}
        for interface in INTERFACES:
            if interface not in have:
                ks.create('endpoints', 'endpoint', service_id=service['id'],
                          interface=interface, url=url, region_id=REGION,
                          enabled=True)


def setup_identities(ks):
    roles = {r['name']: r['id'] for r in ks.list('roles')}
    projects = {'admin': ks.list('projects', name='admin')[0]['id']}
    for name, description in PROJECTS.items():
        projects[name] = ks.one('projects', name, 'project',
                                domain_id=DOMAIN,
                                description=description)['id']
    for name, (variable, assignments) in USERS.items():
        user = ks.one('users', name, 'user', domain_id=DOMAIN,
                      password=password(variable), enabled=True)
        for role, target in assignments:
            if role not in roles:
                roles[role] = ks.create('roles', 'role', name=role)['id']
            if target == 'system':
                ks.put('/v3/system/users/%s/roles/%s'
                       % (user['id'], roles[role]))
            else:
                ks.put('/v3/projects/%s/users/%s/roles/%s'
                       % (projects[target], user['id'], roles[role]))


def clouds(keystone_url):
    """The clouds.yaml content (a dict)."""
    result = {}
    for name, (user, variable, scope) in CLOUDS.items():
        auth = {'auth_url': keystone_url + '/v3', 'username': user,
                'password': password(variable),
                'user_domain_id': DOMAIN}
        if scope == 'system':
            auth['system_scope'] = 'all'
        else:
            auth.update(project_name=scope, project_domain_id=DOMAIN)
        result[name] = {'auth': auth, 'region_name': REGION,
                        'identity_api_version': '3',
                        'interface': 'public'}
    return {'clouds': result}


def wait_answering(keystone_url, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            request('GET', keystone_url + '/v3', timeout=3)
            return
        except (OSError, KeystoneError) as e:
            if time.monotonic() >= deadline:
                raise KeystoneError('Keystone does not answer on %s (%s)'
                                    % (keystone_url, e)) from None
        time.sleep(0.2)


def setup(keystone_url, clouds_file, wait, catalog):
    wait_answering(keystone_url, float(wait))
    ks = Keystone(keystone_url)
    setup_catalog(ks, catalog)
    setup_identities(ks)
    tmp = clouds_file + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(clouds(keystone_url), f, indent=2, sort_keys=True)
    # the lab's passwords are for tests: readable by the test user
    os.chmod(tmp, 0o644)
    os.replace(tmp, clouds_file)
    print('keystone ready: %d users, catalog %s'
          % (len(USERS), ', '.join(e.split('=')[0] for e in catalog)))


def check(clouds_file):
    try:
        with open(clouds_file, encoding='utf-8') as f:
            auth = json.load(f)['clouds']['alpha-member']['auth']
    except (OSError, ValueError, KeyError) as e:
        raise KeystoneError('no usable %s (%s)' % (clouds_file, e)) from None
    keystone_url = auth['auth_url'][:-len('/v3')]
    subject, catalog = token(keystone_url, auth['username'],
                             auth['password'], auth['project_name'])
    compute = [e['url'] for s in catalog if s['type'] == 'compute'
               for e in s['endpoints'] if e['interface'] == 'public']
    if not compute:
        raise KeystoneError('no compute endpoint in the catalog')
    request('GET', compute[0] + '/servers', subject)
    print('keystone ready: a member token works on %s' % compute[0])


def main(argv):
    try:
        if len(argv) >= 5 and argv[1] == 'setup':
            setup(argv[2], argv[3], argv[4], argv[5:])
        elif len(argv) == 3 and argv[1] == 'check':
            check(argv[2])
        else:
            sys.exit(__doc__)
    except (OSError, KeystoneError) as e:
        print('keystone not ready: %s' % e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
