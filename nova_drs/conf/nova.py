# SPDX-License-Identifier: Apache-2.0
"""How the balancer reaches Nova: the ``[drs_nova]`` group.

The standard keystoneauth options, as in Nova's own ``[placement]`` or
``[neutron]`` groups: an auth plugin (``auth_type`` and the plugin's
options, e.g. ``password`` with ``auth_url``, ``username``...), the session
options (TLS, timeout) and the adapter options that pick the compute
endpoint from the catalog (``region_name``, ``valid_interfaces``,
``endpoint_override``). Placement is reached with the same credentials;
its endpoint is chosen by ``[drs_placement]``.

The balancer's user needs the ``admin`` role: with Nova's default policy,
live migration to a named host and listing hypervisors, services and the
servers of all projects are admin-only (doc/source/balancer.rst).
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

nova_group = cfg.OptGroup(
    name='drs_nova',
    title='nova-drs Nova client options',
    help='Credentials, TLS settings and endpoint selection with which the '
         'nova-drs balancer calls the Nova API (and, with the same '
         'credentials, the Placement API). These are the standard '
         'keystoneauth options, as in Nova\'s own [placement] group. The '
         'user needs the admin role.')

#: The adapter options that apply to a service reached through the sdk.
ADAPTER_OPTS = ('valid-interfaces', 'region-name', 'endpoint-override')

#: The default order in which endpoint interfaces are tried.
DEFAULT_INTERFACES = ['internal', 'public']

#: Seconds an API request may take before it fails (keystoneauth has no
#: default timeout; a service must not hang on a stuck API forever).
DEFAULT_TIMEOUT = 120.0


def session_opts():
    """keystoneauth's session options, with a bounded request timeout.

    nova-drs bounds every numeric option and gives it a default; the
    session's ``timeout`` is therefore redefined with the same name and
    meaning, bounds and a default. The others are keystoneauth's own.
    """
    opts = []
    for opt in ks_loading.get_session_conf_options():
        if opt.dest == 'timeout':
            opt = cfg.FloatOpt(
                'timeout', default=DEFAULT_TIMEOUT, min=1.0, max=3600.0,
                help='Seconds an HTTP request to the API may take before '
                     'it fails. A live migration request waits for Nova\'s '
                     'scheduling and pre-checks, so keep it well above '
                     'a few seconds.')
        opts.append(opt)
    return opts


def adapter_opts(interfaces=DEFAULT_INTERFACES):
    """The keystoneauth adapter options that pick a service's endpoint.

    Only those that apply to a service reached through openstacksdk; the
    service type is fixed by the group.
    """
    opts = []
    for opt in ks_loading.get_adapter_conf_options(include_deprecated=False):
        if opt.name not in ADAPTER_OPTS:
            continue
        opt = copy.deepcopy(opt)
        if opt.dest == 'valid_interfaces':
            opt.default = list(interfaces)
        opts.append(opt)
    return opts


def auth_opts():
    """keystoneauth's auth options as listed in the sample configuration.

    ``auth_type`` picks the plugin; its own options are registered when
    the plugin is loaded. The sample shows those of ``password``.
    """
    opts = list(ks_loading.get_auth_common_conf_options())
    names = {o.dest for o in opts}
    for opt in ks_loading.get_auth_plugin_conf_options('password'):
        if opt.dest not in names:
            opts.append(opt)
            names.add(opt.dest)
    return opts


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(nova_group.name, title=nova_group.title,
                         help=nova_group.help)
    conf.register_group(group)
    conf.register_opts(session_opts() + adapter_opts(),
                       group=group)
    ks_loading.register_auth_conf_options(conf, group.name)


def list_opts():
    return {nova_group: session_opts() + adapter_opts()
            + auth_opts()}
