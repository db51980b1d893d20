# SPDX-License-Identifier: Apache-2.0
"""Cells that print for people in tables and stay raw in json/yaml.

cliff asks a ``FormattableColumn`` for ``human_readable()`` in the
``table``, ``value`` and ``shell`` formats and for ``machine_readable()``
in ``json`` and ``yaml``: a load of 0.523 prints as ``52.3%`` in a table
and stays ``0.523`` for scripts.
"""

from cliff import columns

# The order resources are shown in; others follow, sorted.
RESOURCES = ('cpu', 'memory', 'disk', 'network')


def percent(value):
    """A share of capacity (0.523) as a percentage (``52.3%``)."""
    if value is None:
        return ''
    try:
        return '%.1f%%' % (float(value) * 100.0)
    except (TypeError, ValueError):
        # NOTE: show what the API sent rather than fail the whole table.
        return str(value)


def _ordered(keys):
    first = [k for k in RESOURCES if k in keys]
    return first + sorted(k for k in keys if k not in RESOURCES)


class PercentColumn(columns.FormattableColumn):
    """One share of capacity."""

    def human_readable(self):
        return percent(self._value)


class LoadColumn(columns.FormattableColumn):
    """A resource -> share map: ``cpu=52.3%, memory=40.0%``."""

    def human_readable(self):
        value = self._value or {}
        if not isinstance(value, dict):
            return str(value)
        return ', '.join('%s=%s' % (k, percent(value[k]))
                         for k in _ordered(value))

    def machine_readable(self):
        return dict(self._value or {})


class ListColumn(columns.FormattableColumn):
    """A list as ``a, b``; ``[]`` stays a list in json."""

    def human_readable(self):
        return ', '.join(str(v) for v in self._value or [])

    def machine_readable(self):
        return list(self._value or [])


class DictColumn(columns.FormattableColumn):
    """A flat mapping as ``key='value'`` pairs; ``None`` prints empty."""

    def human_readable(self):
        if not self._value:
            return ''
        if not isinstance(self._value, dict):
            return str(self._value)
        return ', '.join('%s=%s' % (k, self._value[k])
                         for k in sorted(self._value))

    def machine_readable(self):
        return None if self._value is None else dict(self._value)


class ActionsColumn(columns.FormattableColumn):
    """A plan's migrations, one a line in a table."""

    def human_readable(self):
        lines = []
        for action in self._value or []:
            lines.append('%s: %s -> %s [%s]' % (
                action.get('instance_uuid'), action.get('source'),
                action.get('target') or '(scheduler)',
                action.get('state')))
        return '\n'.join(lines)

    def machine_readable(self):
        return [dict(a) for a in self._value or []]


class ReplicasColumn(columns.FormattableColumn):
    """The balancer replicas and the hosts each owns, one a line."""

    def human_readable(self):
        lines = []
        for replica in self._value or []:
            hosts = replica.get('hosts') or []
            lines.append('%s: %s' % (replica.get('id'),
                                     ', '.join(hosts) or '(no host)'))
        return '\n'.join(lines)

    def machine_readable(self):
        return [dict(r) for r in self._value or []]
