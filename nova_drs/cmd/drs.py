# SPDX-License-Identifier: Apache-2.0
"""The ``nova-drs`` command: offline tools for operators.

Subcommands:

* ``simulate``: replay utilisation traces through the balancer and the
  balloon policy (see :mod:`nova_drs.simulator`);
* ``capacity``: the largest memory overcommit a balloon policy allows on
  replayed traces (see :mod:`nova_drs.simulator.capacity`);
* ``plan``: read a cluster snapshot and print the plan a strategy makes;
* ``bench``: run the planning benchmark (see :mod:`nova_drs.bench`);
* ``snapshot export``: write the live cluster view as a snapshot (see
  :mod:`nova_drs.cmd.snapshot`).

Bad input ends with one line on standard error and exit code 2, never a
traceback.
"""

import argparse
import json
import sys

import prettytable

from nova_drs.balancer import strategies
from nova_drs.cmd import common

EXIT_OK = common.EXIT_OK

CommandError = common.CommandError
_add_config_args = common.add_config_args
_load_conf = common.load_conf


# -- plan ---------------------------------------------------------------------

def _plan_table(plan):
    table = prettytable.PrettyTable(
        ['#', 'instance', 'source', 'target', 'reason'])
    table.align = 'l'
    table.align['#'] = 'r'
    for n, m in enumerate(plan.migrations, 1):
        table.add_row([n, m.instance, m.source, m.target, m.reason])
    lines = [table.get_string(), '']
    lines.append('strategy: %s   migrations: %d   decision: %.3f s'
                 % (plan.strategy, len(plan.migrations), plan.decision_s))
    lines.append('unresolved hotspots: %s'
                 % (', '.join(plan.unresolved) or 'none'))
    if plan.cooling:
        lines.append('cooling (flagged hot by their agent, already under '
                     'their thresholds: no move): %s'
                     % ', '.join(plan.cooling))
    if plan.freed:
        lines.append('hosts freed (no guest left, can be powered off): %s'
                     % ', '.join(plan.freed))
    return '\n'.join(lines) + '\n'


def cmd_plan(args):
    conf = _load_conf(args)
    name = args.strategy or conf.drs_balancer.strategy
    model = common.load_snapshot(args.snapshot)
    try:
        strategy = strategies.load(name, conf)
    except strategies.StrategyNotFound as e:
        raise CommandError(str(e))
    plan = strategy.plan(model)
    if args.format == 'json':
        text = json.dumps(plan.to_dict(), indent=2) + '\n'
    else:
        text = _plan_table(plan)
    if args.output:
        try:
            with open(args.output, 'w', encoding='utf-8') as f:
                f.write(text)
        except OSError as e:
            raise CommandError('cannot write %s: %s'
                               % (args.output, e.strerror or e))
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _add_plan(sub):
    p = sub.add_parser(
        'plan', help='Plan live migrations for a cluster snapshot.',
        description='Read a cluster snapshot (JSON, see '
                    'doc/source/snapshot-format.rst) and print the migrations '
                    'the '
                    'strategy would make, in the order to run them.')
    p.add_argument('--snapshot', required=True, metavar='FILE',
                   help='Cluster snapshot to plan for.')
    p.add_argument('--strategy', metavar='NAME',
                   help='Strategy to use (default: [drs_balancer] '
                        'strategy).')
    p.add_argument('--output', metavar='FILE',
                   help='Write the plan here instead of standard output.')
    p.add_argument('--format', choices=('table', 'json'), default='table',
                   help='Output format (default: table).')
    _add_config_args(p)
    p.set_defaults(func=cmd_plan)


# -- bench --------------------------------------------------------------------

def _add_bench(sub):
    from nova_drs.bench import cli as bench_cli
    bench_cli.add_parser(sub, _add_config_args, _load_conf)


# -- simulate -----------------------------------------------------------------

def _add_simulate(sub):
    from nova_drs.simulator import cli as simulator_cli
    simulator_cli.add_parser(sub, _add_config_args, _load_conf)


# -- capacity -----------------------------------------------------------------

def _add_capacity(sub):
    from nova_drs.simulator import capacity_cli
    capacity_cli.add_parser(sub, _add_config_args, _load_conf)


# -- snapshot -----------------------------------------------------------------

def _add_snapshot(sub):
    from nova_drs.cmd import snapshot as snapshot_cli
    snapshot_cli.add_parser(sub, _add_config_args, _load_conf)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise CommandError(message)


def build_parser():
    parser = _Parser(prog='nova-drs',
                     description='nova-drs offline tools.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND',
                                parser_class=_Parser)
    sub.required = True
    _add_simulate(sub)
    _add_capacity(sub)
    _add_plan(sub)
    _add_bench(sub)
    _add_snapshot(sub)
    for name, modules in NEEDS_EXTRA.items():
        sub.choices[name].set_defaults(needs=modules)
    return parser


#: the subcommands that need the ``sim`` extra (``pip install
#: 'nova-drs[sim]'``), and what of it: a compute node or a controller
#: installs nova-drs without them
NEEDS_EXTRA = {
    'simulate': ('matplotlib', 'tqdm', 'jinja2'),
    'capacity': ('matplotlib',),
    'bench': ('scipy', 'matplotlib'),
}


def _dispatch(args):
    common.check_extra('nova-drs %s' % args.command,
                       getattr(args, 'needs', ()))
    return args.func(args)


def main(argv=None):
    return common.run('nova-drs', build_parser(), argv, _dispatch)


if __name__ == '__main__':
    sys.exit(main())
