# SPDX-License-Identifier: Apache-2.0
"""Sets of host CPUs written as Nova writes them.

The syntax is the one of Nova's ``[compute] cpu_shared_set`` and
``cpu_dedicated_set``: comma-separated items, each a CPU number ``N``, a
range ``N-M``, or an exclusion ``^N`` or ``^N-M``; exclusions apply to the
whole list, whatever their place. ``4-12,^8,15`` is CPUs 4 to 12 but 8,
and 15. Whitespace around items and numbers is ignored, and so are empty
items (``1,,2`` or a trailing comma), as Nova does.
"""

import re

#: the largest CPU number accepted (Linux's NR_CPUS is at most 8192): a
#: mistyped range must not build a set of millions of CPUs
MAX_CPU = 65535

_ITEM = re.compile(r'(\^)?\s*([0-9]+)\s*(?:-\s*([0-9]+))?')


def parse_cpu_set(spec):
    """Parse a CPU set such as ``4-12,^8,15``.

    :param spec: the text, in Nova's ``cpu_shared_set`` syntax.
    :returns: frozenset of CPU numbers, never empty.
    :raises ValueError: an item is not ``N``, ``N-M``, ``^N`` or
        ``^N-M`` (the message names it), a range ends before it starts,
        a CPU number exceeds :data:`MAX_CPU`, or no CPU is left.
    """
    included, excluded = set(), set()
    for item in spec.split(','):
        item = item.strip()
        if not item:
            continue
        found = _ITEM.fullmatch(item)
        if found is None:
            raise ValueError(
                'invalid item %r in CPU set %r: expected N, N-M, ^N or '
                '^N-M, with N and M CPU numbers' % (item, spec))
        first = int(found.group(2))
        last = first if found.group(3) is None else int(found.group(3))
        if last < first:
            raise ValueError('invalid range %r in CPU set %r: %d is '
                             'greater than %d' % (item, spec, first, last))
        if last > MAX_CPU:
            raise ValueError('invalid item %r in CPU set %r: CPU numbers '
                             'go up to %d' % (item, spec, MAX_CPU))
        (excluded if found.group(1) else included).update(
            range(first, last + 1))
    cpus = included - excluded
    if not cpus:
        raise ValueError('CPU set %r selects no CPU' % spec)
    return frozenset(cpus)


def format_cpu_set(cpus):
    """The shortest text of a set of CPUs: ``{0, 1, 2, 5}`` -> ``0-2,5``.

    An empty set gives ``''``.
    """
    items = []
    for cpu in sorted(cpus):
        if items and items[-1][1] == cpu - 1:
            items[-1][1] = cpu
        else:
            items.append([cpu, cpu])
    return ','.join(str(a) if a == b else '%d-%d' % (a, b)
                    for a, b in items)
