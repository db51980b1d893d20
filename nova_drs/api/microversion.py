# SPDX-License-Identifier: Apache-2.0
"""API microversions: which version of the API a request asks for.

A client names it in ``OpenStack-API-Version: drs 1.1`` (or the
service-specific ``X-OpenStack-DRS-API-Version: 1.1``); no header means
1.0, ``latest`` the newest. A version outside the supported range is
refused with 406. Every answer says which version it used, so that
caches and clients can tell (doc/api.rst, "Microversions").
"""

import collections
import re

from nova_drs.api import errors

SERVICE = 'drs'
HEADER = 'OpenStack-API-Version'
LEGACY_HEADER = 'X-OpenStack-DRS-API-Version'


class Version(collections.namedtuple('Version', ['major', 'minor'])):
    """A microversion, ordered as numbers (1.10 > 1.9)."""

    def __str__(self):
        return '%d.%d' % self


#: (version, what it changed), oldest first; the last is the newest
HISTORY = (
    (Version(1, 0), 'The first version: hosts, instances, plans, plan '
                    'requests, migrations, status.'),
    (Version(1, 1), 'Plan requests show the ``claimed`` state (1.0 shows '
                    'it as ``pending``) and the ``claimed_by`` and '
                    '``claimed_at`` fields.'),
)
MIN_VERSION = HISTORY[0][0]
MAX_VERSION = HISTORY[-1][0]

_VERSION_RE = re.compile(r'^([1-9][0-9]*)\.(0|[1-9][0-9]*)$')


def parse(text):
    """A :class:`Version` from ``"1.1"`` or ``"latest"``.

    :raises errors.BadRequest: not a version
    """
    text = text.strip()
    if text.lower() == 'latest':
        return MAX_VERSION
    match = _VERSION_RE.match(text)
    if match is None:
        raise errors.BadRequest(
            'invalid API version %r: expected MAJOR.MINOR (e.g. %s) or '
            'latest' % (text, MAX_VERSION))
    return Version(int(match.group(1)), int(match.group(2)))


def requested(headers):
    """The version a request asks for (1.0 when it names none).

    :param headers: the request's headers (case-insensitive mapping)
    :raises errors.BadRequest: a malformed version
    :raises errors.NotAcceptable: a version this API does not serve
    """
    text = None
    value = headers.get(HEADER)
    if value:
        # "compute 2.79, drs 1.1": the entry for this service, if any
        for entry in value.split(','):
            service, _sep, version = entry.strip().partition(' ')
            if service.lower() == SERVICE:
                text = version
    if text is None:
        text = headers.get(LEGACY_HEADER)
    if not text:
        return MIN_VERSION
    version = parse(text)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.NotAcceptable(
            'API version %s is not supported: this API serves %s to %s'
            % (version, MIN_VERSION, MAX_VERSION),
            headers=response_headers(MIN_VERSION))
    return version


def response_headers(version):
    """The headers every answer carries."""
    return {HEADER: '%s %s' % (SERVICE, version), 'Vary': HEADER}
