# SPDX-License-Identifier: Apache-2.0
"""Options of the metrics signatures: the ``[drs_signing]`` group.

The agents sign their ``drs.host.metrics`` and ``drs.host.hotspot``
notifications and the balancer checks the signatures
(``nova_drs.notifications.signing``; the trust model is in
``doc/source/security.rst``). Read by ``nova-drs-agent``, ``nova-drs-balancer``
and ``nova-drs-manage signing host-key``.
"""

from oslo_config import cfg

signing_group = cfg.OptGroup(
    name='drs_signing',
    title='nova-drs metrics signature options',
    help='The secret with which the agents\' metrics notifications are '
         'signed (HMAC-SHA256) and the balancer checks them, as '
         'Ceilometer\'s ``[publisher] telemetry_secret``. Anyone who holds '
         'credentials of the message broker can publish notifications: '
         'without a secret the balancer believes any of them.')

SIGNING_OPTS = [
    cfg.StrOpt(
        'secret', secret=True,
        help='Shared secret of the metrics signatures.\n\n'
             'On the balancer: when set, every notification must carry a '
             'valid signature made with this secret or with the host key '
             'derived from it (see ``require_host_keys``); unsigned and '
             'badly signed ones are dropped and counted. When unset, '
             'notifications are accepted unsigned, and the balancer says '
             'so with a warning at start-up.\n\n'
             'On a compute node: when set, and ``[drs_agent] '
             'signing_key_file`` is not, the agent signs with this secret. '
             'Any node that holds it can sign for every host; give the '
             'nodes their own host keys instead (``[drs_agent] '
             'signing_key_file``) so that a compromised node can speak for '
             'itself only. Use a long random value (``openssl rand -hex '
             '32``).\n\n'
             'Related options:\n\n'
             '* ``[drs_agent] signing_key_file``\n'
             '* ``[drs_signing] require_host_keys``'),
    cfg.BoolOpt(
        'require_host_keys', default=False,
        help='Balancer only: accept only notifications signed with the '
             'sending host\'s own key (derived from ``secret``, given to '
             'the node with ``[drs_agent] signing_key_file``), and refuse '
             'those signed with the shared secret itself. Turn on once '
             'every agent has its host key, after which a node holding the '
             'shared secret can no longer sign for other hosts.\n\n'
             'Related options:\n\n'
             '* ``[drs_signing] secret``'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts, see nova_drs.conf.drs
    group = cfg.OptGroup(signing_group.name, title=signing_group.title,
                         help=signing_group.help)
    conf.register_group(group)
    conf.register_opts(SIGNING_OPTS, group=group)


def list_opts():
    return {signing_group: SIGNING_OPTS}
