# SPDX-License-Identifier: Apache-2.0
"""What the parts of :class:`nova_drs.db.api.Database` share.

The errors its methods raise (importable from :mod:`nova_drs.db.api` too,
where callers look for them) and how arguments are normalised. A module
of its own so that every table-group mixin can import it without
importing :mod:`nova_drs.db.api`, which imports them.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

#: Rows written, read or deleted per statement: well below every backend's
#: limit on bound parameters (SQLite's is the lowest).
CHUNK = 500


class NotFound(Exception):
    """No plan, action or plan request with this uuid."""


class PlanNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('plan %s not found' % uuid)
        self.uuid = uuid


class ActionNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('action %s not found' % uuid)
        self.uuid = uuid


class PlanRequestNotFound(NotFound):
    def __init__(self, uuid):
        super().__init__('plan request %s not found' % uuid)
        self.uuid = uuid


def utc(value):
    """A naive UTC datetime (aware ones are converted); None stays."""
    if value is None:
        return None
    return timeutils.normalize_time(value)


def as_list(value):
    """A filter argument as a list: one value, several, or None (any)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def where_in(query, column, value):
    """``query`` for the rows whose ``column`` is ``value``, or one of them.

    :param value: a value, a list of values, or None: no condition
    """
    values = as_list(value)
    return query if values is None else query.where(column.in_(values))


def must_exist(session, column, key, not_found):
    """Raise ``not_found(key)`` unless a row has ``column == key``.

    After a compare-and-set that changed nothing: tells a missing row
    (an error) from one that was not in the expected state (False).
    """
    if session.scalar(sa.select(column).where(column == key)) is None:
        raise not_found(key)


def chunks(items, size=CHUNK):
    """``items`` in lists of at most ``size``, one statement each."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
