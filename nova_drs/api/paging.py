# SPDX-License-Identifier: Apache-2.0
"""Pages of lists: ``?limit=N&marker=<id>`` and the ``next`` link.

A page has at most ``limit`` items, and never more than ``[drs_api]
max_limit`` (a larger limit is lowered, as Nova does). One item more than
asked is read to know whether a next page exists; the ``next`` link
repeats the request's filters with the last item as the marker.
"""

import urllib.parse


def page_size(call):
    """The number of items the request may get."""
    max_limit = call.conf.drs_api.max_limit
    limit = call.query.get('limit')
    return min(int(limit), max_limit) if limit else max_limit


def page(call, items, key, size):
    """The first ``size`` items and the links.

    :param items: up to ``size + 1`` items, in order
    :param key: the marker of an item (its uuid, its name)
    :returns: (items of the page, ``[{"rel": "next", "href": ...}]`` or
        ``[]``)
    """
    if len(items) <= size:
        return list(items), []
    shown = list(items[:size])
    query = dict(call.query)
    query['limit'] = str(size)
    query['marker'] = key(shown[-1])
    href = '%s%s?%s' % (call.base_url, call.req.path_info,
                        urllib.parse.urlencode(sorted(query.items())))
    return shown, [{'rel': 'next', 'href': href}]
