# SPDX-License-Identifier: Apache-2.0
"""Every option that can hold a password or a key is ``secret=True``.

oslo.config masks secret options wherever it prints values (the services'
start-up ``log_opt_values``, ``oslo-config-validator``), and nova-drs
masks the URLs it logs itself (:mod:`nova_drs.utils.secrets`). The test
walks every registered nova-drs option whose name or help text speaks of
a URL, password, secret, key, token or credential and asserts it is
secret, unless it is listed in :data:`NOT_SECRET` with the reason it
cannot carry one. An option added later is caught here until someone
decides which it is.
"""

import re

from oslotest import base

from nova_drs.conf import opts

#: words that make an option a candidate
_CANDIDATE = re.compile(
    r'\b(urls?|uris?|passwords?|passwd|secrets?|keys?|tokens?|'
    r'credentials?|hmac)\b', re.IGNORECASE)

#: (group, option) -> why it cannot hold a secret
NOT_SECRET = {
    ('drs_agent', 'notification_driver'):
        'a driver name; the broker URL is oslo.messaging\'s transport_url',
    ('drs_agent', 'nova_metadata'):
        'a boolean; the credentials are the [drs_nova] options',
    ('drs_api', 'public_endpoint'):
        'the API\'s own public URL, shown to every client in the version '
        'document',
    ('drs_balancer', 'opt_out_metadata_key'):
        'the name of a Nova server metadata key',
    ('drs_balloon', 'floor'):
        'a share of memory; the help names the metadata key that overrides '
        'it',
    ('drs_balloon', 'floor_metadata_key'):
        'the name of a Nova server metadata key',
    ('drs_listener', 'topic'):
        'a topic name; the help points at the transport URL option',
    ('drs_nova', 'keyfile'): 'a path to a key file, not the key',
    ('drs_nova', 'valid-interfaces'): 'endpoint interface names',
    ('drs_nova', 'region-name'): 'a region name',
    ('drs_nova', 'endpoint-override'):
        'an endpoint URL without credentials (keystoneauth sends them in '
        'headers)',
    ('drs_nova', 'auth-url'): 'Keystone\'s public URL',
    ('drs_placement', 'valid-interfaces'): 'endpoint interface names',
    ('drs_placement', 'region-name'): 'a region name',
    ('drs_placement', 'endpoint-override'):
        'an endpoint URL without credentials',
    ('drs_agent', 'signing_key_file'):
        'the path of the key file; the file itself is readable by the '
        'agent only',
    ('drs_signing', 'require_host_keys'):
        'a boolean; the key is [drs_signing] secret',
    ('libvirt', 'connection_uri'):
        'libvirt URIs name no password: libvirt authenticates with SASL '
        'or TLS certificates configured outside the URI',
    ('drs_listener', 'nova_topic'):
        'a topic name; the help points at the transport URL option',
}


def _options():
    for group, group_opts in opts.list_opts():
        name = getattr(group, 'name', group)
        for opt in group_opts:
            yield name, opt


class TestSecretOptions(base.BaseTestCase):

    def test_every_candidate_is_secret_or_explained(self):
        wrong = []
        for group, opt in _options():
            text = '%s %s' % (opt.name.replace('_', ' '), opt.help or '')
            if not _CANDIDATE.search(text):
                continue
            if (group, opt.name) in NOT_SECRET:
                self.assertFalse(
                    opt.secret, '[%s] %s is secret: remove it from '
                    'NOT_SECRET' % (group, opt.name))
                continue
            if not opt.secret:
                wrong.append('[%s] %s' % (group, opt.name))
        self.assertEqual([], wrong,
                         'options that may hold a password or key but are '
                         'not secret=True (or explained in NOT_SECRET)')

    def test_known_secrets(self):
        secret = {(group, opt.name) for group, opt in _options()
                  if opt.secret}
        for expected in (('drs_coordination', 'backend_url'),
                         ('drs_database', 'connection'),
                         ('drs_database', 'connection_parameters'),
                         ('drs_listener', 'nova_transport_url'),
                         ('drs_nova', 'password'),
                         ('drs_signing', 'secret')):
            self.assertIn(expected, secret)

    def test_explanations_name_real_options(self):
        known = {(group, opt.name) for group, opt in _options()}
        self.assertEqual([], [key for key in NOT_SECRET if key not in known])
