# SPDX-License-Identifier: Apache-2.0
"""Signatures: canonical form, shared and host keys, key files."""

import json
import os

import fixtures
from oslotest import base

from nova_drs.notifications import payload
from nova_drs.notifications import signing
from tests.unit.agent import test_payload as agent_payloads
from tests.unit import clusters

SECRET = 'correct horse battery staple'
PUBLISHER = 'nova-drs-agent:compute-1'


def through_broker(doc):
    """What the balancer decodes: JSON out and back, as oslo.messaging."""
    return json.loads(json.dumps({'payload': doc}))['payload']


class TestCanonical(base.BaseTestCase):

    def test_sorted_compact_and_without_the_signature(self):
        doc = {'b': 1.5, 'a': [True, None], 'signature': {'x': 1}}
        text = signing.canonical('drs.host.metrics', PUBLISHER, 'shared',
                                 doc)
        header, body = text.split(b'\n')
        self.assertEqual(b'{"a":[true,null],"b":1.5}', body)
        self.assertEqual(['nova-drs-notification-signature-1',
                          'drs.host.metrics', PUBLISHER, 'shared'],
                         json.loads(header))

    def test_survives_the_json_round_trip(self):
        doc = agent_payloads.metrics_payload()
        doc['guests'][0]['name'] = 'gäst ☃'
        doc['host']['memory']['total_mb'] = 0.1 + 0.2
        self.assertEqual(
            signing.canonical('e', PUBLISHER, 'host', doc),
            signing.canonical('e', PUBLISHER, 'host', through_broker(doc)))

    def test_no_nan(self):
        for bad in (float('nan'), float('inf')):
            self.assertRaises(ValueError, signing.canonical, 'e',
                              PUBLISHER, 'host', {'x': bad})


class TestSignAndVerify(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.doc = agent_payloads.metrics_payload()
        self.verifier = signing.Verifier(SECRET)

    def shared(self, publisher_id=PUBLISHER):
        return signing.Signer(signing.secret_bytes(SECRET), signing.SHARED,
                              publisher_id)

    def host(self, host='compute-1', publisher_id=PUBLISHER):
        return signing.Signer(signing.host_key(SECRET, host), signing.HOST,
                              publisher_id)

    def verify(self, doc, event=payload.METRICS_EVENT,
               publisher_id=PUBLISHER, host='compute-1', verifier=None):
        (verifier or self.verifier).verify(event, publisher_id, host,
                                           through_broker(doc))

    def test_shared_and_host_keys_verify(self):
        for signer in (self.shared(), self.host()):
            doc = signer.sign(payload.METRICS_EVENT,
                              agent_payloads.metrics_payload())
            self.assertEqual(signer.kind, doc['signature']['key'])
            self.assertEqual(64, len(doc['signature']['hmac_sha256']))
            self.verify(doc)
            payload.validate(through_broker(doc))

    def test_signing_twice_gives_the_same_signature(self):
        doc = self.shared().sign(payload.METRICS_EVENT, self.doc)
        first = dict(doc['signature'])
        self.assertEqual(first, self.shared().sign(
            payload.METRICS_EVENT, doc)['signature'])

    def test_tampered_payload_is_refused(self):
        doc = self.host().sign(payload.METRICS_EVENT, self.doc)
        doc['host']['load']['cpu'] = 1.0
        e = self.assertRaises(signing.SignatureError, self.verify, doc)
        self.assertIn('does not match', str(e))

    def test_bound_to_event_type_and_publisher(self):
        doc = self.shared().sign(payload.METRICS_EVENT, self.doc)
        self.assertRaises(signing.SignatureError, self.verify, doc,
                          event=payload.HOTSPOT_EVENT)
        self.assertRaises(signing.SignatureError, self.verify, doc,
                          publisher_id='nova-drs-agent:compute-2',
                          host='compute-2')

    def test_a_host_key_signs_for_its_host_only(self):
        # compute-2 holds its own key and claims to be compute-1
        doc = self.host('compute-2').sign(payload.METRICS_EVENT, self.doc)
        self.assertRaises(signing.SignatureError, self.verify, doc)
        # and cannot pass it off as the shared secret either
        doc['signature']['key'] = 'shared'
        self.assertRaises(signing.SignatureError, self.verify, doc)

    def test_host_keys_differ_and_hide_the_secret(self):
        keys = {signing.host_key(SECRET, h) for h in ('a', 'b', 'a.b')}
        self.assertEqual(3, len(keys))
        self.assertNotEqual(signing.host_key(SECRET, 'a'),
                            signing.host_key(SECRET + 'x', 'a'))
        self.assertNotIn(SECRET.encode(), b''.join(keys))

    def test_wrong_secret(self):
        doc = signing.Signer(b'other secret', signing.SHARED,
                             PUBLISHER).sign(payload.METRICS_EVENT, self.doc)
        self.assertRaises(signing.SignatureError, self.verify, doc)

    def test_unsigned_and_malformed(self):
        self.assertRaises(signing.Unsigned, self.verify, self.doc)
        for bad in ('abc', {'key': 'host'}, {'key': 'root',
                                             'hmac_sha256': 'ab'},
                    {'key': 'host', 'hmac_sha256': 'é' * 64},
                    {'key': 'host', 'hmac_sha256': 5}):
            doc = dict(self.doc, signature=bad)
            e = self.assertRaises(signing.SignatureError, self.verify, doc)
            self.assertNotIsInstance(e, signing.Unsigned)

    def test_require_host_keys(self):
        strict = signing.Verifier(SECRET, require_host_keys=True)
        doc = self.shared().sign(payload.METRICS_EVENT, self.doc)
        e = self.assertRaises(signing.SignatureError, self.verify, doc,
                              verifier=strict)
        self.assertIn('require_host_keys', str(e))
        doc = self.host().sign(payload.METRICS_EVENT,
                               agent_payloads.metrics_payload())
        self.verify(doc, verifier=strict)

    def test_newer_keys_are_covered(self):
        # a newer agent's keys are signed too: verified before they are
        # dropped
        doc = self.host().sign(payload.METRICS_EVENT,
                               dict(self.doc, version='1.9', extra=1))
        self.verify(doc)
        doc['extra'] = 2
        self.assertRaises(signing.SignatureError, self.verify, doc)


class TestConfiguration(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def key_file(self, text, mode=0o600):
        path = os.path.join(self.tmp, 'key')
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_key_file(self):
        key = signing.host_key(SECRET, 'compute-1')
        path = self.key_file(key.hex() + '\n')
        self.assertEqual(key, signing.read_key_file(path))

    def test_readable_key_file_is_warned_of(self):
        path = self.key_file('ab' * 32, mode=0o644)
        with self.assertLogs('nova_drs.notifications.signing',
                             'WARNING') as logs:
            signing.read_key_file(path)
        self.assertIn('can be read by other users', logs.output[0])

    def test_bad_key_files(self):
        for text, why in (('abc', '64 hexadecimal digits'),
                          ('zz' * 32, 'not hexadecimal'),
                          ('', '64 hexadecimal digits')):
            e = self.assertRaises(signing.KeyFileError,
                                  signing.read_key_file,
                                  self.key_file(text))
            self.assertIn(why, str(e))
        e = self.assertRaises(signing.KeyFileError, signing.read_key_file,
                              os.path.join(self.tmp, 'missing'))
        self.assertIn('cannot read', str(e))

    def test_signer_from_conf(self):
        conf = clusters.conf()
        self.assertIsNone(signing.Signer.from_conf(conf, PUBLISHER))
        self.assertIsNone(signing.Verifier.from_conf(conf))
        conf.set_override('secret', SECRET, 'drs_signing')
        self.assertEqual('shared',
                         signing.Signer.from_conf(conf, PUBLISHER).kind)
        verifier = signing.Verifier.from_conf(conf)
        self.assertFalse(verifier.require_host_keys)
        conf.set_override('signing_key_file', self.key_file('ab' * 32),
                          'drs_agent')
        self.assertEqual('host',
                         signing.Signer.from_conf(conf, PUBLISHER).kind)

    def test_secret_is_secret(self):
        conf = clusters.conf()
        self.assertTrue(conf._get_opt_info('secret', 'drs_signing')[
            'opt'].secret)
