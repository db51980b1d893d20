# SPDX-License-Identifier: Apache-2.0
"""Package scope: the services run without the ``sim`` extra, and the
subcommands that need it say so in one line.

Each check runs in a fresh interpreter where matplotlib, scipy, jinja2
and werkzeug cannot be imported (``sys.modules[name] = None`` makes
``import name`` fail, as on a compute node that installed
``nova-drs[agent]`` only).
"""

import subprocess
import sys
import textwrap

from oslotest import base

BLOCK = textwrap.dedent('''\
    import importlib.machinery
    import sys

    class Block:
        """Finds matplotlib, scipy, jinja2 and werkzeug nowhere."""
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.split('.')[0] in ('matplotlib', 'scipy', 'jinja2',
                                      'werkzeug'):
                raise ModuleNotFoundError(name)
            return None

    sys.meta_path.insert(0, Block)
    ''')


def run(code):
    return subprocess.run([sys.executable, '-c', BLOCK + code],
                          capture_output=True, text=True, timeout=120)


class TestWithoutSimExtra(base.BaseTestCase):

    def test_services_import_without_it(self):
        result = run(textwrap.dedent('''\
            import nova_drs.cmd.agent
            import nova_drs.agent.manager
            import nova_drs.cmd.balancer
            import nova_drs.balancer.manager
            import nova_drs.api.app
            import nova_drs.cmd.manage
            import nova_drs.scheduler.filters
            import nova_drs.osc.plugin
            loaded = [m for m in sys.modules
                      if m.split('.')[0] in ('matplotlib', 'scipy',
                                             'jinja2', 'werkzeug')]
            print('loaded:', loaded)
            '''))
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('loaded: []', result.stdout)

    def test_simulate_says_what_to_install(self):
        for command in ('simulate', 'bench', 'capacity'):
            result = run(textwrap.dedent('''\
                from nova_drs.cmd import drs
                sys.exit(drs.main([%r]))
                ''' % command))
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertIn("pip install 'nova-drs[sim]'", result.stderr)
            self.assertNotIn('Traceback', result.stderr)
            self.assertEqual(1, len(result.stderr.strip().splitlines()),
                             result.stderr)

    def test_loadtest_says_what_to_install(self):
        result = run(textwrap.dedent('''\
            from nova_drs.loadtest import run
            sys.exit(run.main(['--hosts', '10']))
            '''))
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn("needs werkzeug", result.stderr)
        self.assertIn("pip install 'nova-drs[sim]'", result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_plan_works_without_it(self):
        result = run(textwrap.dedent('''\
            from nova_drs.cmd import drs
            sys.exit(drs.main(['plan', '--snapshot', '/nonexistent.json']))
            '''))
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertIn('nonexistent.json', result.stderr)
        self.assertNotIn('sim', result.stderr)
