# SPDX-License-Identifier: Apache-2.0
"""The API's policy rules, with defaults on keystone's default roles.

Reading is for the ``reader`` role, every change for ``admin``, with a
system-scoped or a project-scoped token: nova-drs acts on the whole cloud
(hosts, other projects' servers), so no rule is limited to a project.
keystone's default role hierarchy (admin implies member implies reader)
lets members and admins read too. Operators override rules in the policy
file (``[oslo_policy] policy_file``, sample in
``etc/nova-drs/policy.yaml.sample``).

Registered for ``oslopolicy-sample-generator --namespace nova_drs`` through
the ``oslo.policy.policies`` entry point (:func:`list_rules`), and for
oslo.policy's other tools through ``oslo.policy.enforcer``
(:func:`get_enforcer`).
"""

from oslo_config import cfg
from oslo_policy import policy

ADMIN = 'role:admin'
READER = 'role:reader'
SCOPES = ['system', 'project']


def _rule(name, check_str, description, method, *paths):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': method, 'path': path} for path in paths],
        scope_types=SCOPES)


RULES = [
    _rule('drs:host:list', READER,
          'List compute hosts with their load and hotspot state.',
          'GET', '/v1/hosts'),
    _rule('drs:host:show', READER,
          'Show a compute host with its load and hotspot state.',
          'GET', '/v1/hosts/{host}'),
    _rule('drs:host:evacuate', ADMIN,
          'Ask the balancer to live-migrate every instance off a host.',
          'POST', '/v1/hosts/{host}/evacuate'),
    _rule('drs:instance:show', READER,
          'Show an instance\'s balloon floor, opt-out and balloon state.',
          'GET', '/v1/instances/{uuid}'),
    _rule('drs:instance:update', ADMIN,
          'Set an instance\'s balloon floor and opt-out (server metadata).',
          'PATCH', '/v1/instances/{uuid}'),
    _rule('drs:plan:list', READER, 'List plans.', 'GET', '/v1/plans'),
    _rule('drs:plan:show', READER,
          'Show a plan with its migrations; show a plan request.',
          'GET', '/v1/plans/{uuid}', '/v1/plan-requests/{uuid}'),
    _rule('drs:plan:create', ADMIN,
          'Ask the balancer for a dry-run plan made now.',
          'POST', '/v1/plans'),
    _rule('drs:plan:apply', ADMIN, 'Apply a recommended plan.',
          'POST', '/v1/plans/{uuid}/apply'),
    _rule('drs:plan:cancel', ADMIN,
          'Cancel a recommended or applying plan.',
          'POST', '/v1/plans/{uuid}/cancel'),
    _rule('drs:migration:list', READER,
          'List the balancer\'s live migrations.', 'GET', '/v1/migrations'),
    _rule('drs:migration:show', READER,
          'Show one of the balancer\'s live migrations.',
          'GET', '/v1/migrations/{uuid}'),
    _rule('drs:status:show', READER,
          'Show the balancer\'s replicas, the hosts each owns, its mode.',
          'GET', '/v1/status'),
]

#: the rule that guards reading a plan request (requests lead to plans)
PLAN_REQUEST_SHOW = 'drs:plan:show'


def list_rules():
    """Every rule with its default (``oslo.policy.policies`` entry point)."""
    return list(RULES)


def make_enforcer(conf):
    """An enforcer on ``conf`` with the defaults registered.

    The policy file (``[oslo_policy] policy_file``) is read at the first
    check and again when it changes.
    """
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(list_rules())
    return enforcer


def get_enforcer():
    """An enforcer for oslo.policy's command line tools.

    ``oslo.policy.enforcer`` entry point: oslopolicy-policy-generator and
    oslopolicy-list-redundant call it; it reads no nova-drs option.
    """
    conf = cfg.ConfigOpts()
    conf([], project='nova-drs', default_config_files=[],
         default_config_dirs=[])
    return make_enforcer(conf)
