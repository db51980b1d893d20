# SPDX-License-Identifier: Apache-2.0
"""Shared set-up of the agent's functional tests."""

import dataclasses
import os
import textwrap
import threading
import time
import unittest

import fixtures
from oslo_log import log as logging
from oslotest import base

from nova_drs.agent import hoststats
from nova_drs.agent import manager
from nova_drs.agent import publisher
from nova_drs import config
from nova_drs.notifications import payload as payload_mod
from tests.functional.agent import lab
from tests.functional import broker

LOG = logging.getLogger(__name__)
HOST = 'drs-ft-host'


class RecordingNotifier:
    """A Notifier stand-in keeping what it is given (already validated)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    def sample(self, ctxt, event_type, payload):
        payload_mod.validate(payload, event_type)
        with self.lock:
            self.messages.append((time.monotonic(), event_type, payload))

    def payloads(self, event_type=payload_mod.METRICS_EVENT):
        with self.lock:
            return [p for _t, e, p in self.messages if e == event_type]


class SqueezedHost:
    """The real host's /proc, but with a small, lab-sized memory.

    The lab machine has far more memory than its guests, so the balloon
    policy would never need to reclaim. This reader reports a host of
    ``total_mb`` MiB of which ``base_used_mb`` is used by the host itself
    and the rest by the lab guests' current balloon sizes; CPU, disks,
    NICs and pressure are the real ones.
    """

    def __init__(self, conn, total_mb, base_used_mb=200):
        self.conn = conn
        self.total_mb = total_mb
        self.base_used_mb = base_used_mb
        self.reader = hoststats.HostStatsReader()

    def guests_mb(self):
        total = 0
        for dom in self.conn.listAllDomains(
                lab.libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if dom.name().startswith(lab.PREFIX):
                try:
                    total += dom.info()[2] / 1024.0
                except lab.libvirt.libvirtError:
                    pass
        return total

    def read(self):
        sample = self.reader.read()
        available = max(self.total_mb - self.base_used_mb
                        - self.guests_mb(), 0.0)
        sample.memory = dict(sample.memory, MemTotal=self.total_mb * 1024,
                             MemFree=available * 1024,
                             MemAvailable=available * 1024)
        return sample


def every_balloon_mib_counts(agent):
    """Tell the policy what the squeezed host counts: every balloon MiB.

    A :class:`SqueezedHost` counts a guest's whole balloon as host memory,
    where a real host counts QEMU's resident memory: the policy, which
    takes the memory a guest never touched (balloon less RSS) as giving
    the host nothing, would find nothing worth taking from the lab's
    mostly untouched guests. Without RSS it counts every MiB, as the
    squeezed host does.
    """
    policy = agent.actuator.policy
    targets = policy.targets

    def without_rss(host, guests):
        return targets(host, [dataclasses.replace(g, rss_mb=None)
                              for g in guests])
    policy.targets = without_rss


class AgentLabTestCase(base.BaseTestCase):
    """Boots ``GUESTS`` once per class on the lab's libvirtd."""

    #: name -> keyword arguments of lab.Guest
    GUESTS = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if lab.skip_requested():
            raise unittest.SkipTest('NOVA_DRS_SKIP_LIBVIRT=1')
        lab.check()
        cls.conn = lab.libvirt.open(lab.URI)
        lab.cleanup(cls.conn)
        cls.guests = {}
        try:
            for name, kwargs in cls.GUESTS.items():
                cls.guests[name] = lab.Guest(cls.conn, name,
                                             **kwargs).start()
            for guest in cls.guests.values():
                guest.wait_ready()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for guest in getattr(cls, 'guests', {}).values():
            guest.destroy()
        if getattr(cls, 'conn', None) is not None:
            try:
                lab.cleanup(cls.conn)
                cls.conn.close()
            except lab.libvirt.libvirtError:
                pass
        # the recorded notifier never consumes the topic's queue
        broker.delete_queues(lab.TRANSPORT_URL,
                             ['drs_ft_%d.sample' % os.getpid()])
        super().tearDownClass()

    @classmethod
    def reconnect(cls):
        """Open a new connection (after a libvirtd restart)."""
        try:
            cls.conn.close()
        except lab.libvirt.libvirtError:
            pass
        cls.conn = lab.libvirt.open(lab.URI)
        for guest in cls.guests.values():
            guest.rebind(cls.conn)

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def agent_conf(self, extra='', transport_url=lab.TRANSPORT_URL):
        """The path of an agent configuration file for the lab."""
        path = os.path.join(self.tmp, 'agent.conf')
        with open(path, 'w') as f:
            f.write(textwrap.dedent("""\
                [DEFAULT]
                transport_url = %(url)s
                [libvirt]
                connection_uri = %(uri)s
                [drs_agent]
                host = %(host)s
                interval = 1
                topic = drs_ft_%(pid)d
                state_path = %(tmp)s
                """) % {'url': transport_url, 'uri': lab.URI,
                        'host': HOST, 'pid': os.getpid(), 'tmp': self.tmp})
            f.write(textwrap.dedent(extra))
        return path

    def load_conf(self, extra='', transport_url=lab.TRANSPORT_URL):
        """An agent configuration for the lab, loaded."""
        return config.load([self.agent_conf(extra, transport_url)])

    def start_agent(self, conf, host_reader=None, real_publisher=False):
        """Run an AgentManager in a thread until the test ends.

        Its notifications are recorded in ``self.notifier`` unless
        ``real_publisher`` is true (then they go to RabbitMQ).
        """
        if real_publisher:
            self.notifier = None
            pub = publisher.Publisher(conf)
        else:
            self.notifier = RecordingNotifier()
            pub = publisher.Publisher(conf, notifier=self.notifier)
        agent = manager.AgentManager(conf, host_reader=host_reader,
                                     publisher=pub)
        if isinstance(host_reader, SqueezedHost):
            every_balloon_mib_counts(agent)
        agent.start()
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,),
                                  daemon=True)
        thread.start()

        def _stop():
            stop.set()
            thread.join(30)
            agent.stop()
        self.addCleanup(_stop)
        return agent

    def wait_payload(self, predicate, timeout, what):
        """Wait for a metrics payload satisfying ``predicate``."""
        def found():
            for p in reversed(self.notifier.payloads()):
                if predicate(p):
                    return p
            return None
        return lab.wait_for(found, timeout, what=what)


def guest_entry(payload, guest):
    for entry in payload['guests']:
        if entry['uuid'] == guest.uuid:
            return entry
    return None
