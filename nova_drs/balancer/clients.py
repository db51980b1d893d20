# SPDX-License-Identifier: Apache-2.0
"""An openstacksdk connection to Nova and Placement from the configuration.

One code path for every deployment: the keystoneauth auth plugin and
session come from ``[drs_nova]``, the compute and placement endpoints from
the adapter options of ``[drs_nova]`` and ``[drs_placement]``. A cloud
with Keystone uses e.g. ``auth_type = password``; the test lab, which has
no Keystone, uses ``auth_type = admin_token`` with ``endpoint`` (Nova's)
and ``token``, plus ``[drs_placement] endpoint_override``.
"""

from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from openstack.config import cloud_region
from openstack import connection
from requests import adapters

from nova_drs import version

APP_NAME = 'nova-drs'

#: (option group, openstacksdk service type) of the services the balancer
#: calls
SERVICES = (('drs_nova', 'compute'), ('drs_placement', 'placement'))


class ClientConfigError(Exception):
    """The client configuration cannot be used; the message says why."""


def cloud_config(conf, session):
    """The openstacksdk settings (a CloudRegion) for ``session``."""
    settings = {}
    for group_name, service_type in SERVICES:
        group = conf[group_name]
        prefix = service_type.replace('-', '_') + '_'
        if group.endpoint_override:
            settings[prefix + 'endpoint_override'] = group.endpoint_override
        if group.valid_interfaces:
            settings[prefix + 'interface'] = list(group.valid_interfaces)
        if group.region_name:
            settings[prefix + 'region_name'] = group.region_name
    return cloud_region.from_session(
        session, region_name=conf.drs_nova.region_name, app_name=APP_NAME,
        app_version=version.version_info.version_string(), **settings)


def load_session(conf):
    """The keystoneauth session configured in ``[drs_nova]``.

    :raises ClientConfigError: no ``auth_type``, or an unusable plugin.
    """
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, 'drs_nova')
    except Exception as e:
        # keystoneauth raises its own errors and oslo.config's for a
        # missing plugin option; both mean a configuration error here.
        raise ClientConfigError('[drs_nova]: cannot load the auth plugin: %s'
                                % e)
    if auth is None:
        raise ClientConfigError(
            '[drs_nova] auth_type is not set: configure the credentials the '
            'balancer uses to call Nova and Placement (e.g. auth_type = '
            'password, auth_url, username, password, project_name...)')
    return ks_loading.load_session_from_conf_options(conf, 'drs_nova',
                                                     auth=auth)


def _size_pools(session, concurrency):
    """Keep one HTTP connection per thread that may call at once.

    requests keeps 10 connections per host; the balancer's readers of
    Placement inventories (``[drs_balancer] placement_read_concurrency``)
    may be more, and each connection beyond the pool would be opened
    for one request, then closed with a warning.
    """
    if concurrency <= adapters.DEFAULT_POOLSIZE:
        return
    for scheme, adapter in list(session.session.adapters.items()):
        # keystoneauth's adapter (TCP keep-alive, its TLS settings), larger
        session.session.mount(scheme, ks_session.TCPKeepAliveAdapter(
            pool_maxsize=concurrency,
            tls_ciphers=getattr(adapter, 'tls_ciphers', None),
            tls_min_version=getattr(adapter, 'tls_min_version', None)))


def connect(conf):
    """An :class:`openstack.connection.Connection` for Nova and Placement.

    Nothing is sent until the first call; credentials are checked then.
    The connection may be shared between threads.
    """
    session = load_session(conf)
    _size_pools(session, conf.drs_balancer.placement_read_concurrency)
    return connection.Connection(config=cloud_config(conf, session))
