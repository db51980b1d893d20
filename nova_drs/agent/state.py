# SPDX-License-Identifier: Apache-2.0
"""The agent's saved state: what it learnt that a restart must not lose.

One JSON file, ``<[drs_agent] state_path>/balloon-state.json``::

    {"version": 1, "saved_at": <Unix time>, "policy": <name>,
     "balloon": <the policy's export_state()>}

It is written to a temporary file and renamed over the old one, so a
crash while saving leaves the previous state. Any problem reading it (no
file, bad JSON, another policy's state) means starting without it, with a
log line; a problem writing it is logged once per kind of error and the
agent goes on: losing the demand history makes the balloon policy more
careful for a while (the flat floor and what each guest uses now), never
less.
"""

import json
import os
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

FILE_NAME = 'balloon-state.json'
VERSION = 1


class StateFile:
    """Load and save the balloon policy's state.

    :param directory: ``[drs_agent] state_path``; empty disables saving.
    :param wallclock: Unix time (tests pass a fake).
    """

    def __init__(self, directory, wallclock=time.time):
        self.path = (os.path.join(directory, FILE_NAME)
                     if directory else None)
        self.wallclock = wallclock
        self._failed = set()

    def load(self, policy):
        """Restore ``policy`` from the file; returns guests restored."""
        if self.path is None:
            return 0
        try:
            with open(self.path, encoding='utf-8') as f:
                data = json.load(f)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as e:
            LOG.warning('Balloon state %(path)s not read, starting without '
                        'it: %(error)s', {'path': self.path, 'error': e})
            return 0
        if (not isinstance(data, dict) or data.get('version') != VERSION
                or data.get('policy') != policy.name):
            LOG.warning('Balloon state %s is not a version %d state of '
                        'the %s policy: not used', self.path, VERSION,
                        policy.name)
            return 0
        try:
            elapsed = max(self.wallclock() - float(data['saved_at']), 0.0)
        except (KeyError, TypeError, ValueError):
            elapsed = 0.0
        restored = policy.restore_state(data.get('balloon'), elapsed)
        LOG.info('Balloon state of %(n)d guests restored from %(path)s '
                 '(saved %(age).0f s ago)',
                 {'n': restored, 'path': self.path, 'age': elapsed})
        return restored

    def save(self, policy):
        """Write ``policy``'s state; returns True when written."""
        if self.path is None:
            return False
        data = {'version': VERSION, 'saved_at': round(self.wallclock(), 3),
                'policy': policy.name, 'balloon': policy.export_state()}
        tmp = self.path + '.tmp'
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(data, f, separators=(',', ':'))
            os.replace(tmp, self.path)
        except (OSError, TypeError, ValueError) as e:
            kind = type(e).__name__ + str(getattr(e, 'errno', ''))
            if kind not in self._failed:
                self._failed.add(kind)
                LOG.warning('Cannot save the balloon state in %(path)s '
                            '(demand estimates will not survive a '
                            'restart): %(error)s',
                            {'path': self.path, 'error': e})
            return False
        return True
