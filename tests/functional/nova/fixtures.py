# SPDX-License-Identifier: Apache-2.0
"""A real Nova for functional tests: the Nova lab (doc/source/nova-lab.rst).

:class:`NovaLab` gives a test an openstacksdk ``Connection`` to the lab's
Nova and Placement, built by :func:`nova_drs.balancer.clients.connect`
from a configuration file, exactly as the balancer service builds its own
(``auth_type = admin_token``: the lab has no Keystone). When the lab does
not answer, the first test starts it with ``tools/lab/nova-start.sh``
(about a minute; it needs root or sudo, for apt). When it cannot be
started the tests fail with the reason; they are skipped only when
``NOVA_DRS_SKIP_NOVA=1`` is set. A lab this process started is left
running for the next run; stop it with ``tools/lab/nova-stop.sh``.

Everything a test creates (servers, flavors, server groups, aggregates,
disabled services) is named with :data:`PREFIX` or undone by a cleanup,
and leftovers of an interrupted run are removed before the first test.
"""

import fcntl
import os
import subprocess
import textwrap
import threading
import unittest

import fixtures
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_log import log as logging
from oslotest import base

from nova_drs.balancer import clients
from nova_drs import config
from tests import polling

#: the suites' shared polling helper
wait_for = polling.wait_for

LOG = logging.getLogger(__name__)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
START = os.path.join(REPO, 'tools', 'lab', 'nova-start.sh')
#: adds and deletes a compute with many fake nodes (test_nova_scale)
NODES = os.path.join(REPO, 'tools', 'lab', 'nova-nodes.sh')
#: its service host (nova_drs.bench.nova_reads.HOST)
SCALE_HOST = 'drs-scale'
NOVA_URL = 'http://127.0.0.1:8774/v2.1'
PLACEMENT_URL = 'http://127.0.0.1:8778'
#: the lab's Nova and Placement read the token "admin" as an admin
TOKEN = 'admin'
#: the image the lab's Glance stub serves (tools/lab/nova_lab_stub.py)
IMAGE_ID = 'a6a0b2c4-3e0f-4d7e-9c61-6e6f76616472'
COMPUTES = int(os.environ.get('NOVA_DRS_NOVA_COMPUTES', '3'))
HOSTS = ['fake-host-%d' % n for n in range(1, COMPUTES + 1)]
PREFIX = 'drs-nova-ft-'
START_TIMEOUT = 900
#: held by each Nova test: tests that disable hosts or clean up leftovers
#: must not overlap, also across parallel test processes (stestr)
LOCK_FILE = os.path.join(os.environ.get('NOVA_DRS_LAB_RUN',
                                        '/tmp/nova-drs-lab'),
                         'nova-tests.lock')

CLIENT_CONF = """\
[drs_nova]
auth_type = admin_token
endpoint = %(nova)s
token = %(token)s

[drs_placement]
endpoint_override = %(placement)s
""" % {'nova': NOVA_URL, 'placement': PLACEMENT_URL, 'token': TOKEN}

_lock = threading.Lock()
_state = {'ready': False, 'cleaned': False, 'error': None}


class LabUnavailable(Exception):
    """The Nova lab cannot be used; the message says why."""


def skip_requested():
    return os.environ.get('NOVA_DRS_SKIP_NOVA') == '1'


def load_conf(directory, extra=''):
    """The nova-drs configuration for the lab, from a file as in service."""
    path = os.path.join(directory, 'nova-drs.conf')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(CLIENT_CONF + textwrap.dedent(extra))
    return config.load([path])


def lab_state(conn):
    """None when the lab is ready, else what is missing."""
    try:
        up = {s.host for s in conn.compute.services(binary='nova-compute')
              if s.state == 'up'}
        providers = {rp.name for rp in conn.placement.resource_providers()}
    except (sdk_exc.SDKException, ks_exc.ClientException) as e:
        return 'Nova or Placement does not answer (%s)' % e
    missing = [h for h in HOSTS if h not in up or h not in providers]
    if missing:
        return 'computes not ready: %s' % ', '.join(missing)
    return None


def start_lab():
    """Run nova-start.sh (starts the lab, or restarts an outdated one).

    :raises LabUnavailable: it failed; the message has its output's end
    """
    LOG.info('starting the Nova lab: %s', START)
    try:
        proc = subprocess.run([START], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=START_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LabUnavailable('%s failed: %s' % (START, e)) from None
    if proc.returncode != 0:
        tail = '\n'.join(proc.stdout.splitlines()[-25:])
        raise LabUnavailable('%s exited with %d:\n%s'
                             % (START, proc.returncode, tail))


def ensure_lab(conn):
    """Start the lab unless it answers (once per process)."""
    with _lock:
        if _state['ready']:
            return
        if _state['error']:
            raise LabUnavailable(_state['error'])
        missing = lab_state(conn)
        if missing is not None:
            try:
                start_lab()
            except LabUnavailable as e:
                _state['error'] = (
                    'the Nova lab is not running (%s) and could not be '
                    'started: %s\nRun tools/lab/nova-start.sh (as root), or '
                    'set NOVA_DRS_SKIP_NOVA=1 to skip the Nova tests.'
                    % (missing, e))
                raise LabUnavailable(_state['error']) from None
            missing = lab_state(conn)
            if missing is not None:
                _state['error'] = ('the Nova lab started but is not ready: '
                                   '%s' % missing)
                raise LabUnavailable(_state['error'])
        _state['ready'] = True


def remove_leftovers(conn):
    """Undo what an interrupted run left behind (ours only)."""
    compute = conn.compute
    servers = [s for s in compute.servers(all_projects=True)
               if (s.name or '').startswith(PREFIX)]
    for server in servers:
        compute.delete_server(server, ignore_missing=True)
    for server in servers:
        compute.wait_for_delete(server, interval=0.3, wait=60)
    for svc in compute.services(binary='nova-compute'):
        if svc.host in HOSTS and svc.status == 'disabled':
            compute.enable_service(svc)
        elif svc.host == SCALE_HOST:
            # the many-node compute of test_nova_scale, left running
            subprocess.run([NODES, 'delete', SCALE_HOST], check=False,
                           stdout=subprocess.DEVNULL, timeout=600)
    for agg in compute.aggregates():
        if (agg.name or '').startswith(PREFIX):
            for host in agg.hosts or ():
                compute.remove_host_from_aggregate(agg, host)
            compute.delete_aggregate(agg, ignore_missing=True)
    for group in compute.server_groups(all_projects=True):
        if (group.name or '').startswith(PREFIX):
            compute.delete_server_group(group, ignore_missing=True)
    for flavor in compute.flavors():
        if (flavor.name or '').startswith(PREFIX):
            compute.delete_flavor(flavor, ignore_missing=True)


class NovaLab(fixtures.Fixture):
    """The lab's Nova for one test, with helpers that clean up after it.

    Attributes: ``conf`` (nova-drs configuration with ``[drs_nova]`` and
    ``[drs_placement]`` for the lab, plus ``extra_conf``), ``conn`` (the
    openstacksdk Connection built from it).
    """

    def __init__(self, extra_conf=''):
        super().__init__()
        self.extra_conf = extra_conf

    def _setUp(self):
        #: servers booted here whose deletion was not asked for yet
        self._undeleted = []
        tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = load_conf(tmp, self.extra_conf)
        self.conn = clients.connect(self.conf)

    def ensure_ready(self):
        """Start the lab if needed, then remove an earlier run's leftovers.

        :raises LabUnavailable: with the reason and what to do
        """
        ensure_lab(self.conn)
        with _lock:
            if not _state['cleaned']:
                remove_leftovers(self.conn)
                _state['cleaned'] = True

    # -- helpers --

    def flavor(self, name, vcpus, ram):
        compute = self.conn.compute
        try:
            return compute.find_flavor(PREFIX + name, ignore_missing=False)
        except sdk_exc.NotFoundException:
            return compute.create_flavor(name=PREFIX + name, vcpus=vcpus,
                                         ram=ram, disk=1)

    def boot(self, name, flavor, host=None, group=None, metadata=None,
             wait=True):
        """Boot a server (networks 'none'); deleted at cleanup."""
        kwargs = {'name': PREFIX + name, 'flavor_id': flavor.id,
                  'image_id': IMAGE_ID, 'networks': 'none'}
        if host:
            kwargs['host'] = host        # microversion 2.74, admin
        if group:
            kwargs['scheduler_hints'] = {'group': group.id}
        if metadata:
            kwargs['metadata'] = metadata
        server = self.conn.compute.create_server(**kwargs)
        self._undeleted.append(server)
        self.addCleanup(self._cleanup_server, server)
        if wait:
            server = self.wait_active(server)
        return server

    def wait_active(self, server):
        return self.conn.compute.wait_for_server(server, status='ACTIVE',
                                                 interval=0.3, wait=120)

    def delete_server(self, server):
        """Delete a server (any project's) and wait until it is gone."""
        self.conn.compute.delete_server(server, ignore_missing=True)
        self.conn.compute.wait_for_delete(server, interval=0.3, wait=60)

    # the earlier name, still used by other suites
    _delete_server = delete_server

    def delete_booted(self):
        """Ask Nova to delete every server booted here, without waiting.

        Their cleanups then wait until they are gone.
        """
        while self._undeleted:
            self.conn.compute.delete_server(self._undeleted[0],
                                            ignore_missing=True)
            self._undeleted.pop(0)

    def _cleanup_server(self, server):
        """The cleanup of a booted server: deleted, and gone on return.

        The first of these cleanups to run asks Nova to delete every
        server booted here at once (the fake computes delete them in
        parallel); each cleanup then waits for its own server.
        """
        self.delete_booted()        # this one among them, unless done
        self.conn.compute.wait_for_delete(server, interval=0.3, wait=60)

    def server_group(self, name, policy, rules=None):
        group = self.conn.compute.create_server_group(
            name=PREFIX + name, policy=policy, rules=rules or {})
        self.addCleanup(self.conn.compute.delete_server_group, group,
                        ignore_missing=True)
        return group

    def aggregate(self, name, hosts, availability_zone=None):
        compute = self.conn.compute
        agg = compute.create_aggregate(name=PREFIX + name,
                                       availability_zone=availability_zone)
        self.addCleanup(compute.delete_aggregate, agg, ignore_missing=True)
        for host in hosts:
            compute.add_host_to_aggregate(agg, host)
            self.addCleanup(compute.remove_host_from_aggregate, agg, host)
        return agg

    def service(self, host):
        for svc in self.conn.compute.services(binary='nova-compute'):
            if svc.host == host:
                return svc
        raise AssertionError('no nova-compute service on %s' % host)

    def disable(self, host, reason='nova-drs functional test'):
        svc = self.service(host)
        self.conn.compute.disable_service(svc, disabled_reason=reason)
        self.addCleanup(self.conn.compute.enable_service, svc)
        return svc


def lock_lab():
    """Hold the lab for this test; returns the function that releases it.

    (Tests that need the lab for a whole class, such as the Keystone
    tests, hold it from setUpClass.)
    """
    os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
    handle = open(LOCK_FILE, 'a')
    fcntl.flock(handle, fcntl.LOCK_EX)

    def release():
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
    return release


# the earlier name, still used by other suites
_lock_lab = lock_lab


class NovaLabTestCase(base.BaseTestCase):
    """A test case with ``self.lab`` (a :class:`NovaLab`).

    One Nova test runs at a time, even across processes: the lab is held
    from ``setUp`` until the test's last cleanup.
    """

    #: added to the lab's configuration file (e.g. ``[drs_actuator]``)
    extra_conf = ''

    def setUp(self):
        super().setUp()
        if skip_requested():
            raise unittest.SkipTest('NOVA_DRS_SKIP_NOVA=1')
        # registered first, so released after every other cleanup
        self.addCleanup(lock_lab())
        # openstacksdk warns about its own internals on every request
        self.useFixture(fixtures.WarningsFilter([{
            'action': 'ignore', 'category': PendingDeprecationWarning,
            'module': r'openstack\.'}]))
        self.lab = self.useFixture(NovaLab(self.extra_conf))
        error = None
        try:
            self.lab.ensure_ready()
        except LabUnavailable as e:
            error = str(e)
        if error:
            self.fail(error)
        self.conn = self.lab.conn
        self.conf = self.lab.conf


# -- the nova-drs scheduler plugins of the lab (doc/source/scheduler.rst) ---

#: the lab's runtime directory (tools/lab/nova-env.sh)
LAB_RUN = os.environ.get('NOVA_DRS_LAB_RUN', '/tmp/nova-drs-lab')
#: the nova-drs database the lab's nova-scheduler reads: the
#: DRSHotspotFilter and DRSLoadWeigher data, written by tests
DRS_DATABASE = os.path.join(LAB_RUN, 'nova', 'drs', 'nova-drs.sqlite')
DRS_DATABASE_URL = 'sqlite:///' + DRS_DATABASE
#: nova-scheduler's own configuration file in the lab
SCHEDULER_CONF = os.path.join(LAB_RUN, 'nova', 'etc', 'scheduler.conf')
#: the lab's [drs_scheduler] settings (tools/lab/nova-start.sh)
DRS_REFRESH_INTERVAL = 0.5
DRS_MAX_AGE = 5.0


def scheduler_plugins_missing():
    """None when the lab's nova-scheduler runs the nova-drs plugins.

    Else why not: a lab started by older scripts, without them.
    """
    try:
        with open(SCHEDULER_CONF, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        return 'no %s (%s)' % (SCHEDULER_CONF, e.strerror)
    for name in ('DRSHotspotFilter', 'DRSLoadWeigher'):
        if name not in text:
            return '%s does not enable %s' % (SCHEDULER_CONF, name)
    if not os.path.exists(DRS_DATABASE):
        return 'no nova-drs database %s' % DRS_DATABASE
    return None


def ensure_scheduler_plugins():
    """Restart the lab with the plugins when it runs without them.

    Call it without holding the lab (nova-start.sh waits for the Nova test
    of another process to finish before it restarts the lab).

    :raises LabUnavailable: the lab could not be (re)started with them
    """
    with _lock:
        if scheduler_plugins_missing() is None:
            return
        start_lab()
        missing = scheduler_plugins_missing()
        if missing is not None:
            raise LabUnavailable('the Nova lab runs without the nova-drs '
                                 'scheduler plugins: %s' % missing)
        # a restarted lab has none of the earlier run's leftovers
        _state['ready'] = False
