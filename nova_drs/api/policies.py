# SPDX-License-Identifier: Apache-2.0
"""The API's policy rules: Nova's defaults, on keystone's default roles.

Cluster-wide data is for admins only, as Nova keeps hypervisors,
migrations and a server's compute host for its ``ADMIN`` rule: the hosts
and their load, the plans and migrations (which name every project's
instances), plan requests and the balancer's status need ``role:admin``
with a project-scoped or a system-scoped token. The nova-drs view of an
instance (opt-out, balloon floor, balloon state) is for the readers of the
instance's own project and for admins; its compute host for admins only
(``drs:instance:show:host``, as Nova's extended server attributes).
Changing an instance's opt-out or floor is for admins by default; an
operator may let project members do it on their own instances::

    "drs:instance:update": "rule:project_member_or_admin"

Every check is given a real target: ``{"project_id": <the caller's
project>}`` for the cluster-wide rules (as Nova does for its admin APIs;
checked before the controller runs), the server's ``project_id`` and
``user_id``, read from Nova with the caller's token, for the instance
rules (checked by the controller once Nova has shown the server).

The instance rules are project-scoped only: Nova's servers policies are,
so a system-scoped token could not read the server from Nova anyway.

Operators override rules in the policy file (``[oslo_policy]
policy_file``, sample in ``etc/nova-drs/policy.yaml.sample``, made by
``tox -e genpolicy``). Registered for ``oslopolicy-sample-generator
--namespace nova_drs`` through the ``oslo.policy.policies`` entry point
(:func:`list_rules`), and for oslo.policy's other tools through
``oslo.policy.enforcer`` (:func:`get_enforcer`).
"""

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy

#: the base rules' names, used in the check strings of the others
CONTEXT_IS_ADMIN = 'context_is_admin'
ADMIN = 'rule:admin_api'
PROJECT_READER_OR_ADMIN = 'rule:project_reader_or_admin'
PROJECT_MEMBER_OR_ADMIN = 'rule:project_member_or_admin'

#: cluster-wide data: an admin with a system- or project-scoped token
CLUSTER_SCOPES = ['system', 'project']
#: a project's servers (Nova's servers policies are project-scoped)
PROJECT_SCOPES = ['project']

BASE_RULES = [
    policy.RuleDefault(
        CONTEXT_IS_ADMIN, 'role:admin',
        description='Decides what an admin is (the admin role, any '
                    'scope).'),
    policy.RuleDefault(
        'project_reader_api', 'role:reader and project_id:%(project_id)s',
        description='A reader of the project that owns the target.'),
    policy.RuleDefault(
        'project_member_api', 'role:member and project_id:%(project_id)s',
        description='A member of the project that owns the target.'),
    policy.RuleDefault(
        'project_reader_or_admin',
        'rule:project_reader_api or rule:context_is_admin',
        description='A reader of the target\'s project, or an admin.'),
    policy.RuleDefault(
        'project_member_or_admin',
        'rule:project_member_api or rule:context_is_admin',
        description='A member of the target\'s project, or an admin.'),
    policy.RuleDefault(
        'admin_api', 'rule:context_is_admin',
        description='Cluster-wide data and operations: admins only.'),
]


def _rule(name, check_str, description, method, *paths,
          scope_types=CLUSTER_SCOPES):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': method, 'path': path} for path in paths],
        scope_types=list(scope_types))


#: the instance rules (checked by the controller, on the server's project)
INSTANCE_SHOW = 'drs:instance:show'
INSTANCE_SHOW_HOST = 'drs:instance:show:host'
INSTANCE_UPDATE = 'drs:instance:update'

RULES = [
    _rule('drs:host:list', ADMIN,
          'List compute hosts with their load and hotspot state.',
          'GET', '/v1/hosts'),
    _rule('drs:host:show', ADMIN,
          'Show a compute host with its load and hotspot state.',
          'GET', '/v1/hosts/{host}'),
    _rule('drs:host:evacuate', ADMIN,
          'Ask the balancer to live-migrate every instance off a host.',
          'POST', '/v1/hosts/{host}/evacuate'),
    _rule(INSTANCE_SHOW, PROJECT_READER_OR_ADMIN,
          'Show an instance\'s balloon floor, opt-out and balloon state '
          '(the instance\'s project, read from Nova with the caller\'s '
          'token, is the target).',
          'GET', '/v1/instances/{uuid}', scope_types=PROJECT_SCOPES),
    policy.DocumentedRuleDefault(
        name=INSTANCE_SHOW_HOST, check_str=ADMIN,
        description='Show the compute host of an instance (null '
                    'otherwise) in the answers of both instance '
                    'operations, as Nova\'s extended server attributes.',
        operations=[{'method': 'GET', 'path': '/v1/instances/{uuid}'},
                    {'method': 'PATCH', 'path': '/v1/instances/{uuid}'}],
        scope_types=list(PROJECT_SCOPES)),
    _rule(INSTANCE_UPDATE, ADMIN,
          'Set an instance\'s balloon floor and opt-out (server metadata). '
          'Set it to "rule:project_member_or_admin" to let project '
          'members change their own instances.',
          'PATCH', '/v1/instances/{uuid}', scope_types=PROJECT_SCOPES),
    _rule('drs:plan:list', ADMIN, 'List plans.', 'GET', '/v1/plans'),
    _rule('drs:plan:show', ADMIN,
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
    _rule('drs:migration:list', ADMIN,
          'List the balancer\'s live migrations.', 'GET', '/v1/migrations'),
    _rule('drs:migration:show', ADMIN,
          'Show one of the balancer\'s live migrations.',
          'GET', '/v1/migrations/{uuid}'),
    _rule('drs:event:list', ADMIN,
          'List the audit trail: what the balancer\'s replicas and the '
          'operators did to plans, migrations, plan requests and '
          'settings, and who did it.', 'GET', '/v1/events'),
    _rule('drs:status:show', ADMIN,
          'Show the balancer\'s replicas, the hosts each owns, its mode.',
          'GET', '/v1/status'),
    _rule('drs:host:update', ADMIN,
          'Pause or resume the automatic balancing of a host.',
          'PATCH', '/v1/hosts/{host}'),
    _rule('drs:balancer:show', ADMIN,
          'Show the balancer\'s mode and whether balancing is paused, for '
          'the whole cluster.',
          'GET', '/v1/balancer'),
    _rule('drs:balancer:update', ADMIN,
          'Set the balancer\'s mode, or pause or resume automatic '
          'balancing, for the whole cluster.',
          'PATCH', '/v1/balancer'),
]

#: the rule that guards reading a plan request (requests lead to plans)
PLAN_REQUEST_SHOW = 'drs:plan:show'


def list_rules():
    """Every rule with its default (``oslo.policy.policies`` entry point)."""
    return list(BASE_RULES) + list(RULES)


def make_enforcer(conf):
    """An enforcer on ``conf`` with the defaults registered.

    The policy file (``[oslo_policy] policy_file``) is read at the first
    check and again when it changes. Scopes and the new defaults are
    enforced: oslo.policy 6 always checks scopes, and since 4.5 defaults
    ``enforce_new_defaults`` to true; older versions are told to do both
    (an option a version lacks is ignored).
    """
    policy_opts.set_defaults(conf, enforce_scope=True,
                             enforce_new_defaults=True)
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
