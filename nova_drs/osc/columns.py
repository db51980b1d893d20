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


#: how a host's consolidation state reads in a table
CONSOLIDATION_TEXT = {
    'empty': 'empty, can be powered off',
    'disabled': 'empty, disabled by nova-drs, can be powered off',
}


class ConsolidationColumn(columns.FormattableColumn):
    """A host's consolidation state; blank while it runs guests."""

    def human_readable(self):
        if self._value is None:
            return ''
        return CONSOLIDATION_TEXT.get(self._value, str(self._value))


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


def _cycle(cycle):
    """A replica's latest cycle on one line."""
    text = '%s cycle at %s, %.2f s, %s mode: ' % (
        cycle.get('origin'), cycle.get('finished_at'),
        float(cycle.get('duration_s') or 0.0), cycle.get('mode'))
    if cycle.get('failed'):
        return text + 'FAILED (see its log)'
    if cycle.get('skipped'):
        return text + 'nothing planned (%s)' % cycle['skipped']
    return text + ('%d migration(s), %d applied, %d recommended, %d '
                   'unresolved'
                   % (cycle.get('migrations') or 0,
                      len(cycle.get('applied') or ()),
                      len(cycle.get('recommended') or ()),
                      cycle.get('unresolved') or 0))


def _report(replica):
    """The lines of a replica's own report (API 1.2), indented."""
    if 'mode' not in replica:
        return []
    if replica.get('mode') is None:
        return ['  no report from this replica']
    lines = ['  %s mode (%s), %s strategy, %s cycles (%s failed), %s pid '
             '%s%s' % (
                 replica.get('mode'), replica.get('mode_source'),
                 replica.get('strategy'), replica.get('cycles'),
                 replica.get('cycle_errors'), replica.get('host'),
                 replica.get('pid'),
                 ', sees balancing PAUSED' if replica.get('paused') else '')]
    if replica.get('stale'):
        lines.append('  STALE: no report since %s' % replica.get(
            'updated_at'))
    if replica.get('last_cycle'):
        lines.append('  last: %s' % _cycle(replica['last_cycle']))
    else:
        lines.append('  no cycle yet')
    if replica.get('work'):
        lines.append('  work: %s' % _work(replica['work']))
    return lines


def _work(work):
    """A replica's counters (API 1.4) on one line."""
    accepted = sum((work.get('accepted') or {}).values())
    text = '%d notifications taken in, %d dropped, %s hosts owned' % (
        accepted, work.get('dropped') or 0, work.get('hosts_owned'))
    if work.get('partitions'):
        text += ', %s of %s partitions' % (
            work.get('partitions_owned'), work['partitions'])
    if work.get('migrations_following'):
        text += ', following %d migration(s)' % work['migrations_following']
    return text + ', %s Nova calls, %s CPU s, %s MiB' % (
        work.get('nova_calls'), work.get('cpu_s'), work.get('rss_mb'))


class ReplicasColumn(columns.FormattableColumn):
    """The balancer replicas, the hosts each owns and their reports.

    One line per replica (``id: hosts``), then, from API 1.2, what it
    reports of itself: the mode it plans in, its strategy, its latest
    cycle.
    """

    def human_readable(self):
        lines = []
        for replica in self._value or []:
            hosts = replica.get('hosts') or []
            name = replica.get('id')
            if replica.get('member') is False:
                name = '%s (left the group)' % name
            lines.append('%s: %s' % (name, ', '.join(hosts) or '(no host)'))
            lines.extend(_report(replica))
        return '\n'.join(lines)

    def machine_readable(self):
        return [dict(r) for r in self._value or []]


class PausedHostsColumn(columns.FormattableColumn):
    """The paused hosts, one a line: who paused each, when and why."""

    def human_readable(self):
        lines = []
        for pause in self._value or []:
            line = '%s (by %s at %s)' % (
                pause.get('host'), pause.get('paused_by'),
                pause.get('paused_at'))
            if pause.get('reason'):
                line += ': %s' % pause['reason']
            lines.append(line)
        return '\n'.join(lines)

    def machine_readable(self):
        return [dict(p) for p in self._value or []]
