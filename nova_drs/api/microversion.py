# SPDX-License-Identifier: Apache-2.0
"""API microversions: which version of the API a request asks for.

A client names it in ``OpenStack-API-Version: drs 1.1`` (or the
service-specific ``X-OpenStack-DRS-API-Version: 1.1``); no header means
1.0, ``latest`` the newest. A version outside the supported range is
refused with 406. Every answer says which version it used, so that
caches and clients can tell (doc/source/api.rst, "Microversions").
"""

import collections
import re

import microversion_parse

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
    (Version(1, 2), 'Operator control: ``GET``/``PATCH /v1/balancer`` '
                    '(the cluster\'s mode and pause), ``PATCH '
                    '/v1/hosts/{host}`` (pause a host); hosts show '
                    '``paused``, ``pause_reason``, ``paused_by``, '
                    '``paused_at`` and ``libvirt_connected``; the status '
                    'shows ``mode_source``, '
                    '``paused``, ``paused_hosts`` and each replica\'s own '
                    'report (mode, strategy, latest cycle...).'),
    (Version(1, 3), 'The audit trail: ``GET /v1/events``; hosts show '
                    '``consolidation`` (``empty``: no guest, it can be '
                    'powered off; ``disabled``: and nova-drs disabled '
                    'its nova-compute service).'),
    (Version(1, 4), 'The status shows each replica\'s ``work``: metrics '
                    'taken in and dropped, partitions and hosts owned, '
                    'Nova reads and API calls, CPU seconds and memory.'),
)
MIN_VERSION = HISTORY[0][0]
MAX_VERSION = HISTORY[-1][0]

# NOTE: stricter than microversion_parse.parse_version_string, which
# reads "1.01" as 1.1: as Nova's API, one spelling per version
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
    # "compute 2.79, drs 1.1": the entry for this service, if any, else
    # the legacy header
    text = microversion_parse.get_version(headers, SERVICE,
                                          legacy_headers=[LEGACY_HEADER])
    if not text:
        return MIN_VERSION
    version = parse(text)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.NotAcceptable(
            'API version %s is not supported: this API serves %s to %s'
            % (version, MIN_VERSION, MAX_VERSION),
            headers=response_headers(MIN_VERSION))
    return version


def require(version, minimum, what):
    """Refuse (404) an operation that does not exist at ``version``.

    :param what: the operation, for the message (``GET /v1/balancer``)
    :raises errors.NotFound:
    """
    if version < minimum:
        raise errors.NotFound(
            '%s needs API microversion %s or later (this request asked '
            'for %s; send "%s: %s %s")'
            % (what, minimum, version, HEADER, SERVICE, minimum))


def response_headers(version):
    """The headers every answer carries."""
    return {HEADER: '%s %s' % (SERVICE, version), 'Vary': HEADER}
