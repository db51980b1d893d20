# SPDX-License-Identifier: Apache-2.0
"""Find the trace directory to replay: given, or the bundled sample.

``--trace-dir`` may name the traces root (holding ``planetlab/`` or
``bitbrains_rnd/``), the trace's own folder (holding days or months), or
the folder of VM files itself. ``--day`` picks a PlanetLab day (or a
Bitbrains month folder such as ``2013-7``); without it the first one, in
name order, is used.
"""

import importlib.resources
import os

from nova_drs.simulator import traces

#: Sub-folders of a traces root, per trace kind.
_ROOT_FOLDERS = {traces.PLANETLAB: ('planetlab',),
                 traces.BITBRAINS: ('bitbrains_rnd', 'bitbrains',
                                    'bitbrains_faststorage')}


def sample_dir():
    """The bundled sample traces (package data)."""
    return str(importlib.resources.files('nova_drs').joinpath(
        'data', 'sample-traces'))


def _holds_traces(kind, path):
    try:
        names = os.listdir(path)
    except OSError:
        return False
    if kind == traces.BITBRAINS:
        return any(n.endswith('.csv') for n in names)
    return any(os.path.isfile(os.path.join(path, n))
               and not n.startswith('.') and '.' not in n for n in names)


def _subfolders(kind, path):
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    return [n for n in names if os.path.isdir(os.path.join(path, n))
            and _holds_traces(kind, os.path.join(path, n))]


def find(kind, trace_dir=None, day=None):
    """Return (directory of VM files, day or month label).

    :raises traces.TraceError: nothing usable there; the message says
        what was looked for.
    """
    root = trace_dir or sample_dir()
    if not os.path.isdir(root):
        raise traces.TraceError('%s: no such trace directory' % root)
    bases = [os.path.join(root, f) for f in _ROOT_FOLDERS[kind]] + [root]
    bases = [b for b in bases if os.path.isdir(b)]
    for base in bases:
        if day is not None:
            path = os.path.join(base, day)
            if os.path.isdir(path) and _holds_traces(kind, path):
                return os.path.normpath(path), day
            continue
        folders = _subfolders(kind, base)
        if folders:
            return os.path.normpath(os.path.join(base, folders[0])), \
                folders[0]
    if day is None and _holds_traces(kind, root):
        return os.path.normpath(root), os.path.basename(
            os.path.normpath(root))
    for base in bases:
        folders = _subfolders(kind, base)
        if folders:
            raise traces.TraceError(
                '%s: no %s trace for %s (there: %s)'
                % (os.path.normpath(base), kind, day, ', '.join(folders)))
    raise traces.TraceError('%s: no %s traces found here' % (root, kind))
