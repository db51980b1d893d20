# SPDX-License-Identifier: Apache-2.0
"""A tiny stand-in for devstack's inc/ini-config, for the plugin's tests.

``python fake_ini.py set|get|get_multiline|set_multiline FILE SECTION
OPTION [VALUE...]``. Files are kept as lines so that a repeated option
(``available_filters``) survives, as with devstack's sed-based functions;
values are written ``option = value``.
"""

import os
import sys


def _read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def _write(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _section_bounds(lines, section):
    """(start, end) line indexes of a section's body, or None."""
    header = '[%s]' % section
    for i, line in enumerate(lines):
        if line.strip() == header:
            end = i + 1
            while end < len(lines) and not lines[end].startswith('['):
                end += 1
            return i + 1, end
    return None


def _key(line):
    if '=' not in line or line.lstrip().startswith('#'):
        return None
    return line.split('=', 1)[0].strip()


def get_values(path, section, option):
    lines = _read(path)
    bounds = _section_bounds(lines, section)
    if bounds is None:
        return []
    return [lines[i].split('=', 1)[1].strip()
            for i in range(*bounds) if _key(lines[i]) == option]


def set_values(path, section, option, values, replace_first=False):
    lines = _read(path)
    bounds = _section_bounds(lines, section)
    if bounds is None:
        if lines:
            lines.append('')
        lines.append('[%s]' % section)
        bounds = (len(lines), len(lines))
    start, end = bounds
    body = lines[start:end]
    new = ['%s = %s' % (option, v) for v in values]
    positions = [i for i, line in enumerate(body) if _key(line) == option]
    if replace_first and positions:
        # iniset: the value changes in place, other options keep order
        for i in positions:
            body[i] = new[0]
    else:
        body = [line for line in body if _key(line) != option]
        while body and not body[-1].strip():
            body.pop()
        body.extend(new)
    lines[start:end] = body
    _write(path, lines)


def main(argv):
    action, path, section, option = argv[:4]
    values = argv[4:]
    if action == 'get':
        found = get_values(path, section, option)
        print(found[0] if found else '')
    elif action == 'get_multiline':
        print(' '.join(get_values(path, section, option)))
    elif action == 'set':
        set_values(path, section, option, [' '.join(values)],
                   replace_first=True)
    elif action == 'set_multiline':
        set_values(path, section, option, values)
    else:
        sys.exit('fake_ini.py: unknown action %r' % action)


if __name__ == '__main__':
    main(sys.argv[1:])
