# SPDX-License-Identifier: Apache-2.0
"""Signatures of the agent's notification payloads (HMAC-SHA256).

Every compute node holds credentials of the message broker, so the broker
cannot tell an agent from another, nor from anyone else who holds them.
With a secret configured, each payload carries::

    "signature": {"key": "shared" | "host", "hmac_sha256": "<64 hex>"}

the HMAC-SHA256 of :func:`canonical` bytes: the event type, the publisher
id (which names the host), the kind of key and the payload without its
``signature``, serialised as JSON with sorted keys and no spaces. A
signature cannot be moved to another event type, another host or another
payload, and a receiver recomputes it from the decoded message (JSON
numbers, strings and key order survive oslo.messaging's round trip).

Two kinds of key (``doc/source/security.rst`` compares them):

* ``shared``: ``[drs_signing] secret`` itself, the same on every agent and
  balancer;
* ``host``: :func:`host_key` of the host, derived from that secret. The
  balancer holds the secret and derives the key of each host it hears
  from; a compute node holds only its own key (``[drs_agent]
  signing_key_file``, written by ``nova-drs-manage signing host-key``),
  so a node can sign for itself only.
"""

import hashlib
import hmac
import json
import os
import stat

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

FIELD = 'signature'
SHARED = 'shared'
HOST = 'host'
KINDS = (SHARED, HOST)
#: versions the canonical form, and keeps it from matching other HMACs
#: made with the same secret
_DOMAIN = 'nova-drs-notification-signature-1'
_HOST_KEY_DOMAIN = b'nova-drs-host-key-1\x00'
#: a host key is 32 bytes, written as 64 hexadecimal digits
HOST_KEY_HEX_LENGTH = 64


class SignatureError(ValueError):
    """A payload is unsigned, or its signature does not verify."""


class Unsigned(SignatureError):
    """The payload has no signature."""


class KeyFileError(Exception):
    """The key file cannot be read or holds no valid key."""


def canonical(event_type, publisher_id, kind, payload):
    """The bytes a signature is made over.

    ``payload`` without its ``signature`` key, as compact JSON with sorted
    keys, after a header (a JSON list) naming the event type, the
    publisher id and the kind of key.

    :raises ValueError: the payload holds a NaN or an infinity (JSON has
        neither), or something that is not JSON data.
    """
    body = {k: v for k, v in payload.items() if k != FIELD}
    header = json.dumps([_DOMAIN, event_type, publisher_id, kind])
    try:
        text = json.dumps(body, sort_keys=True, separators=(',', ':'),
                          allow_nan=False, check_circular=False)
    except (TypeError, RecursionError) as e:
        raise ValueError('not JSON data: %s' % e) from None
    except ValueError:
        raise ValueError('holds a number that is not finite (NaN or '
                         'infinity)') from None
    return ('%s\n%s' % (header, text)).encode('utf-8')


def _digest(key, message):
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def secret_bytes(secret):
    """The key bytes of ``[drs_signing] secret``."""
    return secret.encode('utf-8')


def host_key(secret, host):
    """The 32-byte key of ``host``, derived from the shared secret.

    HMAC-SHA256(secret, domain || host name): knowing one host's key tells
    nothing of another's, nor of the secret.
    """
    return hmac.new(secret_bytes(secret),
                    _HOST_KEY_DOMAIN + host.encode('utf-8'),
                    hashlib.sha256).digest()


def read_key_file(path):
    """The host key in the file ``path``.

    64 hexadecimal digits, as ``nova-drs-manage signing host-key`` writes.

    :raises KeyFileError: unreadable, or not a key.
    """
    try:
        with open(path) as f:
            text = f.read(4096).strip()
        mode = os.stat(path).st_mode
    except OSError as e:
        raise KeyFileError('cannot read the signing key file %s: %s'
                           % (path, e.strerror or e))
    if len(text) != HOST_KEY_HEX_LENGTH:
        raise KeyFileError('the signing key file %s does not hold a key '
                           '(%d hexadecimal digits expected)'
                           % (path, HOST_KEY_HEX_LENGTH))
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError('the signing key file %s does not hold a key '
                           '(not hexadecimal)' % path) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        LOG.warning('The signing key file %s can be read by other users '
                    '(mode %o); it should be readable by the agent only '
                    '(chmod 600)', path, stat.S_IMODE(mode))
    return key


class Signer:
    """Signs an agent's payloads with one key.

    :param key: the key bytes.
    :param kind: :data:`SHARED` or :data:`HOST`.
    :param publisher_id: the agent's publisher id, ``nova-drs-agent:<host>``.
    """

    def __init__(self, key, kind, publisher_id):
        if kind not in KINDS:
            raise ValueError('unknown kind of key %r' % (kind,))
        self._key = key
        self.kind = kind
        self.publisher_id = publisher_id

    @classmethod
    def from_conf(cls, conf, publisher_id):
        """The signer of the configuration, or None (sign nothing).

        ``[drs_agent] signing_key_file`` wins over ``[drs_signing]
        secret``.

        :raises KeyFileError: the key file is set but unusable.
        """
        path = conf.drs_agent.signing_key_file
        if path:
            return cls(read_key_file(path), HOST, publisher_id)
        if conf.drs_signing.secret:
            return cls(secret_bytes(conf.drs_signing.secret), SHARED,
                       publisher_id)
        return None

    def sign(self, event_type, payload):
        """Add the ``signature`` of ``payload`` to it (in place)."""
        payload.pop(FIELD, None)
        digest = _digest(self._key, canonical(
            event_type, self.publisher_id, self.kind, payload))
        payload[FIELD] = {'key': self.kind, 'hmac_sha256': digest}
        return payload


class Verifier:
    """Checks the signatures of the payloads a balancer takes in.

    :param secret: ``[drs_signing] secret``.
    :param require_host_keys: refuse payloads signed with the shared
        secret itself: only a host's own key is accepted.
    """

    def __init__(self, secret, require_host_keys=False):
        if not secret:
            raise ValueError('a secret is needed to verify signatures')
        self._secret = secret
        self._shared = secret_bytes(secret)
        self.require_host_keys = require_host_keys

    @classmethod
    def from_conf(cls, conf):
        """The verifier of ``[drs_signing]``, or None without a secret."""
        opts = conf.drs_signing
        if not opts.secret:
            return None
        return cls(opts.secret, opts.require_host_keys)

    def verify(self, event_type, publisher_id, host, payload):
        """Check the signature of a payload from ``host``.

        :raises Unsigned: no signature.
        :raises SignatureError: a malformed signature, a key kind that is
            not accepted, or a signature that does not match.
        :raises ValueError: the payload cannot be serialised (NaN...).
        """
        signature = payload.get(FIELD)
        if signature is None:
            raise Unsigned('the payload is not signed')
        if not isinstance(signature, dict):
            raise SignatureError('malformed signature')
        kind, given = signature.get('key'), signature.get('hmac_sha256')
        if not isinstance(given, str) or not given.isascii() \
                or kind not in KINDS:
            raise SignatureError('malformed signature')
        if kind == SHARED:
            if self.require_host_keys:
                raise SignatureError(
                    'signed with the shared secret, but [drs_signing] '
                    'require_host_keys accepts host keys only')
            key = self._shared
        else:
            key = host_key(self._secret, host)
        expected = _digest(key, canonical(event_type, publisher_id, kind,
                                          payload))
        if not hmac.compare_digest(expected, given):
            raise SignatureError('the %s-key signature does not match'
                                 % kind)
