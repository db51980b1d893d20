# SPDX-License-Identifier: Apache-2.0
"""Turn API objects into the (columns, values) pairs cliff prints.

A command describes what it shows as a tuple of ``Field``: the column's
title, how to read the value from the API object, and the optional
``FormattableColumn`` class that renders it.
"""

import collections

Field = collections.namedtuple('Field', ['title', 'path', 'column'])


def field(title, path, column=None):
    """``path`` is a key, or keys separated by dots (``load.cpu``)."""
    return Field(title, tuple(path.split('.')), column)


def _read(obj, path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def values(obj, fields):
    """One row: the values of ``fields`` in ``obj``, formatted."""
    row = []
    for f in fields:
        value = _read(obj, f.path)
        row.append(f.column(value) if f.column else value)
    return tuple(row)


def titles(fields):
    return tuple(f.title for f in fields)


def show(obj, fields):
    """What ``ShowOne.take_action`` returns."""
    return titles(fields), values(obj, fields)


def listing(items, fields):
    """What ``Lister.take_action`` returns."""
    return titles(fields), (values(item, fields) for item in items)
