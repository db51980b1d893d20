# SPDX-License-Identifier: Apache-2.0
"""Policy checks of a request: the target, the scope, the 403.

Two kinds of rule (:mod:`.policies`): the cluster-wide ones are checked
before the controller runs, with ``{"project_id": <the caller's
project>}`` as the target, as Nova checks its admin APIs; the instance
ones by the controller, with the project and user that own the server
Nova showed the caller. For the latter the token's scope is checked
before the controller runs, so that a token the rule can never allow does
not reach Nova.
"""

from oslo_policy import policy

from nova_drs.api import errors


def cluster_target(context):
    """The target of a cluster-wide rule: the caller's own project."""
    return {'project_id': context.project_id}


def server_target(server):
    """The target of an instance rule: who owns the server in Nova."""
    return {'project_id': getattr(server, 'project_id', None),
            'user_id': getattr(server, 'user_id', None)}


def token_scope(context):
    """``system``, ``domain`` or ``project``, as oslo.policy tells them."""
    if context.system_scope:
        return 'system'
    if context.domain_id:
        return 'domain'
    return 'project'


def _refusal(rule, context):
    return errors.Forbidden(
        'policy does not allow %s for this token (roles: %s, scope: %s)'
        % (rule, ', '.join(context.roles) or 'none', _shown_scope(context)))


def _shown_scope(context):
    if context.system_scope:
        return 'system'
    if context.project_id:
        return 'project'
    if context.domain_id:
        return 'domain'
    return 'none'


class Access:
    """The checks of one enforcer (:func:`.policies.make_enforcer`)."""

    def __init__(self, enforcer):
        self.enforcer = enforcer

    def authorize(self, rule, context, target):
        """Pass, or raise a 403 naming the rule.

        :raises errors.Forbidden: the rule or its scope refuses the token
        """
        try:
            self.enforcer.authorize(rule, target, context, do_raise=True)
        except (policy.PolicyNotAuthorized, policy.InvalidScope):
            raise _refusal(rule, context) from None

    def allowed(self, rule, context, target):
        """True when ``rule`` passes (for what an answer shows)."""
        try:
            return bool(self.enforcer.authorize(rule, target, context,
                                                do_raise=False))
        except policy.InvalidScope:
            return False

    def check_scope(self, rule, context):
        """Refuse a token whose scope ``rule`` never allows.

        :raises errors.Forbidden: the token's scope is not one of the
            rule's ``scope_types``
        """
        registered = self.enforcer.registered_rules.get(rule)
        scopes = registered.scope_types if registered is not None else None
        if scopes and token_scope(context) not in scopes:
            raise _refusal(rule, context)
