# SPDX-License-Identifier: Apache-2.0
"""The Nova servers the instance resource reads and writes.

The balloon floor and the opt-out of an instance are Nova server metadata
(``[drs_balloon] floor_metadata_key``, ``[drs_balancer]
opt_out_metadata_key``), read by the agent and the balancer; the API
changes them through openstacksdk with the ``[drs_nova]`` credentials,
the connection code of the balancer (:func:`nova_drs.balancer.clients.
connect`). openstacksdk is imported at the first instance request only.
"""

import threading

from oslo_log import log as logging

from nova_drs.api import errors

LOG = logging.getLogger(__name__)

UNAVAILABLE = ('Nova cannot be reached by the nova-drs API, or refused its '
               'credentials; the API\'s log has the details.')


def _default_connect(conf):
    from nova_drs.balancer import clients
    return clients.connect(conf)


class NovaServers:
    """Nova's servers, through one shared openstacksdk connection.

    :param conf: configuration with ``[drs_nova]`` and
        ``[drs_placement]``
    :param connect: ``connect(conf)`` -> openstacksdk Connection (tests
        replace it)
    """

    def __init__(self, conf, connect=_default_connect):
        self.conf = conf
        self._connect = connect
        self._conn = None
        self._lock = threading.Lock()

    def _compute(self):
        with self._lock:
            if self._conn is None:
                try:
                    self._conn = self._connect(self.conf)
                except Exception:
                    LOG.exception('Cannot build the connection to Nova '
                                  'from [drs_nova]')
                    raise errors.ServiceUnavailable(UNAVAILABLE) from None
            return self._conn.compute

    def _call(self, what, func, *args, **kwargs):
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc

        try:
            return func(*args, **kwargs)
        except sdk_exc.NotFoundException:
            raise
        except (sdk_exc.SDKException, ks_exc.ClientException) as e:
            LOG.warning('Nova: %s failed: %s', what, e)
            raise errors.ServiceUnavailable(UNAVAILABLE) from None

    def get(self, server_id):
        """The server; None when Nova has no such server.

        :raises errors.ServiceUnavailable: Nova does not answer
        """
        from openstack import exceptions as sdk_exc

        compute = self._compute()
        try:
            return self._call('reading server %s' % server_id,
                              compute.get_server, server_id)
        except sdk_exc.NotFoundException:
            return None

    def update_metadata(self, server, set_items, delete_keys):
        """Set some metadata keys of a server and delete others."""
        from openstack import exceptions as sdk_exc

        compute = self._compute()
        try:
            if set_items:
                self._call('setting metadata of %s' % server.id,
                           compute.set_server_metadata, server, **set_items)
            if delete_keys:
                self._call('deleting metadata of %s' % server.id,
                           compute.delete_server_metadata, server,
                           list(delete_keys))
        except sdk_exc.NotFoundException:
            # NOTE: deleting a key the server does not have is a 404 of
            # Nova's; the server is gone when get() says so afterwards
            pass
