# SPDX-License-Identifier: Apache-2.0
"""Secrets kept out of messages and logs.

oslo.config masks ``secret=True`` options where it prints them; a URL
that nova-drs itself puts in a log line or an error message (a tooz
backend, a database, a broker) goes through :func:`mask_url` first.
"""

import urllib.parse

from oslo_utils import strutils

MASK = '***'


def mask_url(url):
    """``url`` with the password of its user part and of its query masked.

    ``redis://:s3cret@cache:6379?db=0`` -> ``redis://:***@cache:6379?db=0``;
    ``etcd3+http://h:2379?password=x`` -> ``...?password=***``. Text that is
    not a URL is masked as oslo.utils masks passwords in free text.
    """
    if not url:
        return url
    try:
        parts = urllib.parse.urlsplit(str(url))
        # NOTE: reading the port checks the netloc is well-formed
        parts.port
        if not parts.scheme:
            raise ValueError('not a URL')
    except ValueError:
        return _mask_userinfo(strutils.mask_password(str(url), MASK))
    netloc = parts.netloc
    if '@' in netloc:
        userinfo, _sep, hostport = netloc.rpartition('@')
        user, colon, _password = userinfo.partition(':')
        netloc = '%s%s@%s' % (user, ':' + MASK if colon else '', hostport)
    query = '&'.join(_mask_parameter(item)
                     for item in parts.query.split('&')) if parts.query \
        else ''
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query,
                                    parts.fragment))


#: query parameters whose value is masked (names containing these)
_SECRET_PARAMETERS = ('password', 'passwd', 'secret', 'token', 'key',
                      'credential')


def _mask_parameter(item):
    name, sep, _value = item.partition('=')
    if sep and any(word in urllib.parse.unquote(name).lower()
                   for word in _SECRET_PARAMETERS):
        return '%s=%s' % (name, MASK)
    return item


def _mask_userinfo(text):
    """``scheme://user:pw@`` -> ``scheme://user:***@`` in free text."""
    head, sep, rest = text.partition('://')
    if not sep or '@' not in rest.split('/', 1)[0]:
        return text
    userinfo, _at, tail = rest.partition('@')
    user, colon, _password = userinfo.partition(':')
    return '%s://%s%s@%s' % (head, user, ':' + MASK if colon else '', tail)
