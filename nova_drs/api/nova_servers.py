# SPDX-License-Identifier: Apache-2.0
"""The Nova servers of the instance resource, read and changed AS THE CALLER.

The balloon floor and the opt-out of an instance are Nova server metadata
(``[drs_balloon] floor_metadata_key``, ``[drs_balancer]
opt_out_metadata_key``), read by the agent and the balancer. The API reads
and writes them with the caller's own token (:func:`nova_drs.api.auth.
caller_auth`), never with the balancer's ``[drs_nova]`` credentials: Nova
itself decides which servers the caller may see (another project's server
is a 404) and change (a 403), and shows the compute host to whom its
policy allows. Of ``[drs_nova]`` only the session options (TLS,
``timeout``) and the adapter options that find the compute endpoint
(``region_name``, ``valid_interfaces``, ``endpoint_override``) are used.

Nova's answers map to the API's: 404, 403, 401, 409 and 400 pass through
with Nova's message; Nova unreachable, an endpoint missing from the
catalog or a server fault is a 503 with one warning line in the log.
openstacksdk is imported at the first instance request only.
"""

from oslo_log import log as logging

from nova_drs.api import auth
from nova_drs.api import errors
from nova_drs import masking

LOG = logging.getLogger(__name__)

UNAVAILABLE = ('Nova cannot be reached by the nova-drs API; the API\'s log '
               'has the details.')

#: Nova statuses passed on to the caller, with Nova's message
_PASSED_ON = {400: errors.BadRequest, 401: errors.Unauthorized,
              403: errors.Forbidden, 409: errors.Conflict}

#: the longest exception text put in a log line
_LOG_TEXT = 400


def _one_line(exc):
    """An exception's text for one log line (URLs masked, bounded)."""
    text = masking.mask_url(' '.join(str(exc).split()))
    return text if len(text) <= _LOG_TEXT else text[:_LOG_TEXT] + '...'


def _connect(conf, plugin, discovery_cache):
    """An openstacksdk Connection that authenticates with ``plugin``.

    ``[drs_nova]``'s session options (TLS, timeout) and endpoint options;
    never its credentials.
    """
    from keystoneauth1 import loading as ks_loading
    from openstack import connection

    from nova_drs.balancer import clients

    session = ks_loading.load_session_from_conf_options(
        conf, 'drs_nova', auth=plugin, discovery_cache=discovery_cache)
    return connection.Connection(
        config=clients.cloud_config(conf, session))


def _close(conn):
    """Close the HTTP connections of a caller's openstacksdk Connection."""
    try:
        conn.close()
    finally:
        # NOTE: keystoneauth's session keeps a requests.Session (a pool of
        # keep-alive sockets to Nova) that Connection.close() leaves open
        conn.session.session.close()


class NovaServers:
    """Nova's servers, as each caller may see them.

    :param conf: configuration with ``[drs_api]`` and ``[drs_nova]``
    :param connect: ``connect(conf, auth_plugin, discovery_cache)`` ->
        openstacksdk Connection (tests replace it)
    """

    def __init__(self, conf, connect=_connect):
        self.conf = conf
        self._connect = connect
        # NOTE: Nova's version document, shared by the callers' sessions:
        # without it every request would discover Nova's microversions
        # again (keystoneauth keys it by URL; it holds nothing personal)
        self._discovery_cache = {}

    def as_caller(self, environ):
        """The servers as the caller of the request ``environ`` sees them.

        :raises errors.Unauthorized: no token to act with
        :raises errors.ServiceUnavailable: no way to reach Nova
        """
        try:
            plugin = auth.caller_auth(environ, self.conf)
        except auth.NoEndpoint as e:
            LOG.warning('Cannot reach Nova: %s', e)
            raise errors.ServiceUnavailable(UNAVAILABLE) from None
        return CallerServers(
            lambda: self._connect(self.conf, plugin, self._discovery_cache))


class CallerServers:
    """Nova's servers through one caller's token (one request's worth)."""

    def __init__(self, connect, close=_close):
        self._connect = connect
        self._close = close
        self._conn = None

    def close(self):
        """Release the connection to Nova (at the end of the request)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                self._close(conn)
            except Exception as e:
                LOG.debug('Closing the connection to Nova: %s', e)

    def _call(self, what, func, *args, **kwargs):
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc

        try:
            if self._conn is None:
                self._conn = self._connect()
            return func(self._conn.compute, *args, **kwargs)
        except sdk_exc.NotFoundException:
            raise
        except sdk_exc.HttpException as e:
            error = _PASSED_ON.get(e.status_code)
            if error is None:
                LOG.warning('Nova: %s failed: %s', what, _one_line(e))
                raise errors.ServiceUnavailable(UNAVAILABLE) from None
            raise error('Nova refused to %s: %s' % (
                what, e.details or e.message)) from None
        except ks_exc.Unauthorized as e:
            raise errors.Unauthorized('Nova refused the token: %s'
                                      % e) from None
        except (sdk_exc.SDKException, ks_exc.ClientException) as e:
            LOG.warning('Nova: %s failed: %s', what, _one_line(e))
            raise errors.ServiceUnavailable(UNAVAILABLE) from None

    def get(self, server_id):
        """The server; None when Nova shows the caller no such server.

        :raises errors.APIError: Nova refuses (401, 403), or does not
            answer (503)
        """
        from openstack import exceptions as sdk_exc

        try:
            return self._call('read server %s' % server_id,
                              lambda compute: compute.get_server(server_id))
        except sdk_exc.NotFoundException:
            return None

    def update_metadata(self, server, set_items, delete_keys):
        """Delete some metadata keys of a server, then set others.

        (In this order: openstacksdk drops a deleted key from ``server``,
        and a set replaces its metadata with what Nova answers.)

        :raises errors.NotFound: the server is gone
        :raises errors.APIError: Nova refuses, or does not answer
        """
        from openstack import exceptions as sdk_exc

        if delete_keys:
            try:
                self._call('delete metadata of server %s' % server.id,
                           lambda compute: compute.delete_server_metadata(
                               server, list(delete_keys)))
            except sdk_exc.NotFoundException:
                # NOTE: a key deleted meanwhile is a 404 of Nova's too; the
                # server is gone when reading it afterwards says so
                pass
        if set_items:
            try:
                self._call('set the metadata of server %s' % server.id,
                           lambda compute: compute.set_server_metadata(
                               server, **set_items))
            except sdk_exc.NotFoundException:
                raise errors.NotFound('Nova has no server %s (any more)'
                                      % server.id) from None
