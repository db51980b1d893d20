# SPDX-License-Identifier: Apache-2.0
"""Per-guest balloon floors from the servers' metadata in Nova.

Nova does not copy server metadata into the domain XML, so an operator's
``openstack server set --property drs:balloon_floor_mb=2048 my-vm``
(``[drs_balloon] floor_metadata_key``) never reaches libvirt. With
``[drs_agent] nova_metadata = true`` the agent asks Nova instead, as
ceilometer's compute agent does to discover its instances:
:class:`NovaMetadataReader` lists the servers of its own compute host
(``[drs_agent] host``) every ``[drs_agent] nova_metadata_interval``
seconds::

    conn.compute.servers(details=True, all_projects=True,
                         compute_host=<host>)

and keeps ``server id -> floor in MiB`` (the server id is the libvirt
domain UUID). A floor in the domain's libvirt metadata, when there is a
valid one, wins over the server metadata (the agent's manager merges
them).

The calls to Nova run in a background thread, never in the sampling
cycle: a Nova API call takes from a few hundred milliseconds to the
session timeout (``[drs_nova] timeout``, 120 s by default) when Nova is
slow or down, which would delay or stall sampling and ballooning. The
cycle only reads the last map (a dict replaced as a whole, never changed
in place) and tells the thread which guests it sees: a guest not in the
last listing (just booted, or live-migrated in, which Nova still places
on its source host until the migration ends) is looked up at once with
one ``GET /servers/{id}``, at most once per guest between two listings,
so that its floor applies within a cycle or two instead of up to an
interval later.

Failures never reach the cycle: a Nova error (unreachable, timeout,
authentication, policy) keeps the last good map; a value that is not a
number of MiB >= 0 is ignored. Each distinct problem is logged at most
once per interval.

keystoneauth1 (with ``[drs_nova]``) is imported only when a reader is
built, openstacksdk when it first connects: the feature is off by default
and they cost the agent about 20 MB.
"""

import math
import threading

from oslo_log import log as logging

from nova_drs import periodic

LOG = logging.getLogger(__name__)

#: seconds stop() waits for the threads (a request in flight is not
#: interrupted)
STOP_TIMEOUT = 2.0


class ConfigError(Exception):
    """``[drs_nova]`` cannot be used by the reader; the message says why."""


def register_opts(conf):
    """Register ``[drs_nova]`` on ``conf`` unless it is there already.

    The agent registers it only when ``[drs_agent] nova_metadata`` is on
    (it imports keystoneauth1); oslo.config accepts options registered
    after the files were parsed.
    """
    if 'drs_nova' not in conf:
        from nova_drs.conf import nova
        nova.register_opts(conf)


def check_conf(conf):
    """Check that ``[drs_nova]`` names a usable auth plugin.

    Only keystoneauth1 is imported (not openstacksdk), so that the
    agent's parent process stays small.

    :raises ConfigError: no ``auth_type``, or the plugin cannot be loaded.
    """
    from keystoneauth1 import loading as ks_loading
    register_opts(conf)
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, 'drs_nova')
    except Exception as e:
        # keystoneauth's errors and oslo.config's for a missing plugin
        # option: all mean a configuration error here
        raise ConfigError('[drs_nova]: cannot load the auth plugin: %s' % e)
    if auth is None:
        raise ConfigError(
            '[drs_agent] nova_metadata needs the credentials of [drs_nova] '
            '(auth_type, auth_url, username, password, project_name...) '
            'of a user allowed to list the servers of all projects on a '
            'host')


def connect(conf):
    """An openstacksdk Connection to the compute service of ``[drs_nova]``.

    The session comes from :func:`nova_drs.balancer.clients.load_session`
    (the balancer's code path); only the compute endpoint is configured,
    as the agent does not call Placement.
    """
    from openstack.config import cloud_region
    from openstack import connection

    from nova_drs.balancer import clients
    from nova_drs import version

    try:
        session = clients.load_session(conf)
    except clients.ClientConfigError as e:
        raise ConfigError(str(e))
    group = conf.drs_nova
    settings = {}
    if group.endpoint_override:
        settings['compute_endpoint_override'] = group.endpoint_override
    if group.valid_interfaces:
        settings['compute_interface'] = list(group.valid_interfaces)
    if group.region_name:
        settings['compute_region_name'] = group.region_name
    region = cloud_region.from_session(
        session, region_name=group.region_name,
        app_name=clients.APP_NAME + '-agent',
        app_version=version.version_info.version_string(), **settings)
    return connection.Connection(config=region)


def parse_floor(value):
    """MiB from a metadata value; ValueError unless a number >= 0."""
    floor = float(value)
    if math.isnan(floor) or math.isinf(floor) or floor < 0:
        raise ValueError(value)
    return floor


def _error_key(error):
    """What makes two Nova errors "the same" for the log's rate limit.

    The class and HTTP status, not the message, which may carry request
    ids or times.
    """
    status = (getattr(error, 'status_code', None)
              or getattr(error, 'http_status', None))
    return ('nova', type(error).__name__, status)


class NovaMetadataReader:
    """Balloon floors from the server metadata of this host's servers.

    :param conf: configuration (``[drs_agent]``, ``[drs_balloon]``,
        ``[drs_nova]``).
    :param connect: callable returning an openstacksdk Connection, called
        once, in the reader's thread (by default :func:`connect`).
    """

    def __init__(self, conf, connect=connect):
        register_opts(conf)
        self.conf = conf
        self.host = conf.drs_agent.host
        self.key = conf.drs_balloon.floor_metadata_key
        self.interval = conf.drs_agent.nova_metadata_interval
        self._connect = connect
        self._conn = None
        self._lock = threading.Lock()
        #: server id -> floor MiB; replaced as a whole, never changed
        self._floors = {}
        #: ids Nova listed on this host at the last listing
        self._listed = frozenset()
        #: ids looked up (or queued) since the last listing
        self._asked = set()
        self._wanted = set()
        #: the guests the cycle saw last
        self._present = frozenset()
        #: the problems logged since the last listing
        self._warned = set()
        self._failing = False
        self._stop = threading.Event()
        self._runner = None
        #: successful listings and failed calls since start
        self.listings = 0
        self.failures = 0

    @classmethod
    def from_conf(cls, conf):
        return cls(conf)

    # -- the cycle's side ---------------------------------------------------

    def floors(self, uuids=()):
        """The last known floors, ``{server id: MiB}``; never blocks on Nova.

        :param uuids: the guests running now; those Nova did not list are
            looked up in the background (once each between two listings).
        """
        with self._lock:
            self._present = frozenset(uuids)
            unknown = self._present - self._listed - self._asked
            if unknown:
                self._asked |= unknown
                self._wanted |= unknown
            floors = self._floors
        runner = self._runner
        if unknown and runner is not None:
            # after the listing or lookup in progress, if any
            runner.run_soon(self.look_up_wanted)
        return floors

    # -- the thread ---------------------------------------------------------

    def start(self):
        """Start the background threads; the first listing is immediate."""
        LOG.info('Reading balloon floors from the server metadata key %s '
                 'of the servers of host %s in Nova, every %d s',
                 self.key, self.host, self.interval)
        self._stop.clear()
        # the listing every interval from the start of the previous one
        # (as before), failed or not; lookups queued behind it
        self._runner = periodic.Periodic('nova-metadata', [periodic.Task(
            self.list_and_look_up, self.interval, run_immediately=True,
            name='the server listing')])
        self._runner.start()

    def stop(self):
        self._stop.set()
        if self._runner is not None:
            self._runner.stop()
            self._runner.wait(STOP_TIMEOUT)
            self._runner = None

    def list_and_look_up(self):
        """List this host's servers, then look up the guests waiting."""
        self.refresh()
        self.look_up_wanted()

    def look_up_wanted(self):
        """Look up the guests the cycle saw that Nova did not list."""
        with self._lock:
            # guests seen before the listing that has just listed them
            # (at start) need no lookup
            wanted = self._wanted - self._listed
            self._wanted = set()
        if wanted:
            self.lookup(sorted(wanted))

    def _connection(self):
        if self._conn is None:
            self._conn = self._connect(self.conf)
        return self._conn

    def refresh(self):
        """List this host's servers now; False when Nova failed."""
        self._warned = set()
        try:
            servers = list(self._connection().compute.servers(
                details=True, all_projects=True, compute_host=self.host))
        except Exception as e:
            self._nova_failed(e, 'listing the servers of host %s'
                              % self.host)
            return False
        floors, listed, other_hosts = {}, set(), 0
        for server in servers:
            host = getattr(server, 'compute_host', None)
            if host is not None and host != self.host:
                # Nova ignores the host filter, silently, for a user its
                # policy does not allow to use it
                other_hosts += 1
                continue
            listed.add(server.id)
            floor = self._floor_of(server)
            if floor is not None:
                floors[server.id] = floor
        if other_hosts:
            self._warn(('other-hosts',),
                       'Nova returned %d servers of other hosts: it ignored '
                       'the host filter, which its policy '
                       '(os_compute_api:servers:allow_all_filters) reserves '
                       'to admins; give the [drs_nova] user the admin role',
                       other_hosts)
        with self._lock:
            # guests looked up one by one and still not listed (being
            # migrated in) keep their floor until they are looked up again
            for uuid in self._present - listed:
                if uuid in self._floors:
                    floors[uuid] = self._floors[uuid]
            self._floors = floors
            self._listed = frozenset(listed)
            self._asked = set()
        self.listings += 1
        if self._failing:
            LOG.info('Server metadata read from Nova again')
            self._failing = False
        LOG.debug('%d servers on host %s in Nova, %d with a balloon floor',
                  len(listed), self.host, len(floors))
        return True

    def lookup(self, uuids):
        """Read the floors of the given servers one by one."""
        from openstack import exceptions as sdk_exc
        found = {}
        missing = set()
        for uuid in uuids:
            if self._stop.is_set():
                return
            try:
                server = self._connection().compute.get_server(uuid)
            except sdk_exc.NotFoundException:
                # not a Nova server, or deleted meanwhile
                missing.add(uuid)
                continue
            except Exception as e:
                self._nova_failed(e, 'reading server %s' % uuid)
                # the others would fail alike; retried after the next
                # listing
                break
            found[uuid] = self._floor_of(server)
        if not found and not missing:
            return
        with self._lock:
            floors = dict(self._floors)
            for uuid, floor in found.items():
                if floor is None:
                    floors.pop(uuid, None)
                else:
                    floors[uuid] = floor
            for uuid in missing:
                floors.pop(uuid, None)
            self._floors = floors
        LOG.debug('Looked up %d servers in Nova: %s', len(found),
                  ', '.join(sorted(found)))

    def _floor_of(self, server):
        value = (getattr(server, 'metadata', None) or {}).get(self.key)
        if value is None:
            return None
        try:
            return parse_floor(value)
        except (TypeError, ValueError):
            self._warn(('value', server.id, str(value)),
                       'Ignoring the invalid balloon floor %s=%r of server '
                       '%s: not a number of MiB >= 0', self.key, value,
                       server.id)
            return None

    # -- errors ---------------------------------------------------------------

    def _nova_failed(self, error, what):
        self.failures += 1
        self._failing = True
        self._warn(_error_key(error),
                   'Cannot read the balloon floors from Nova (%s): %s: %s; '
                   'keeping the last ones known', what,
                   type(error).__name__, error)

    def _warn(self, key, message, *args):
        """Log a warning once per distinct key between two listings.

        Listings are an interval apart, so each distinct problem is
        logged at most once per interval, however many cycles ask for a
        lookup meanwhile.
        """
        if key in self._warned:
            LOG.debug(message, *args)
            return
        self._warned.add(key)
        LOG.warning(message, *args)
