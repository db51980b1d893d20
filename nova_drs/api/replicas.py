# SPDX-License-Identifier: Apache-2.0
"""The balancer replicas and the hosts each owns, for the status resource.

The API does not join the replicas' tooz group (it would own hosts); it
connects as an observer with a member id of its own and reads the
group's members. Host ownership is computed as the replicas compute it
(:mod:`nova_drs.balancer.coordination.membership`): in ``partitioned`` mode
tooz's consistent hash ring over the sorted members, in ``per_host`` mode each
replica owns the host whose state it writes.
"""

import os
import socket
import threading

from oslo_log import log as logging
import tooz
from tooz import coordination as tooz_coordination

from nova_drs.api import errors
from nova_drs.balancer.coordination import backend_retries
from nova_drs.balancer.coordination import membership as coordination
from nova_drs import masking

LOG = logging.getLogger(__name__)

UNAVAILABLE = ('The coordination backend of the balancer replicas '
               '([drs_coordination] backend_url) cannot be reached; the '
               'API\'s log has the details.')


def owners(members, hosts, mode, reported_by=None, partitions=0):
    """``{member: sorted owned hosts}`` for every member.

    :param members: the replicas' member ids
    :param hosts: every host name
    :param mode: ``partitioned`` or ``per_host``
    :param reported_by: ``{host: replica}`` that wrote each host's state
        (the owner in ``per_host`` mode)
    :param partitions: ``[drs_listener] partitions`` (a host belongs to
        the owner of its intake partition when not 0)
    """
    owned = {member: [] for member in members}
    if not members:
        return owned
    if mode == coordination.PER_HOST:
        for host, replica in (reported_by or {}).items():
            if replica in owned:
                owned[replica].append(host)
    else:
        # the replicas' own rule, so that the status says what they do
        hash_ring = coordination.ring(members)
        for host in hosts:
            node = coordination.owner_of(host, hash_ring, partitions)
            if node in owned:
                owned[node].append(host)
    return {member: sorted(names) for member, names in owned.items()}


class ReplicaReader:
    """Reads the members of the replicas' group (one connection, reused).

    :param conf: configuration with ``[drs_coordination]``
    """

    def __init__(self, conf, get_coordinator=None):
        self.conf = conf
        self._get_coordinator = (get_coordinator
                                 or tooz_coordination.get_coordinator)
        self._driver = None
        self._lock = threading.Lock()
        self.member_id = 'nova-drs-api-%s-%d' % (socket.gethostname(),
                                                 os.getpid())

    def members(self):
        """The replicas' member ids, sorted (empty: no replica ever ran).

        :raises errors.ServiceUnavailable: the backend does not answer
        """
        opts = self.conf.drs_coordination
        with self._lock:
            try:
                if self._driver is None:
                    driver = backend_retries.bound(self._get_coordinator(
                        opts.backend_url, self.member_id.encode('utf-8'),
                        **coordination.backend_options(
                            opts.backend_url, opts.member_timeout)))
                    driver.start(start_heart=False)
                    self._driver = driver
                members = self._driver.get_members(
                    opts.group.encode('utf-8')).get(
                        timeout=opts.member_timeout)
            except tooz_coordination.GroupNotCreated:
                return []
            except (tooz.ToozError, OSError, ValueError) as e:
                # ValueError: a URL the backend's client refuses (a
                # configuration error, shown as the backend being out of
                # reach rather than as a failed request)
                # NOTE: the URL may hold the backend's password
                LOG.warning('Cannot read the members of group %s at %s: %s',
                            opts.group, masking.mask_url(opts.backend_url),
                            masking.mask_url(' '.join(str(e).split())))
                self._close()
                raise errors.ServiceUnavailable(UNAVAILABLE) from None
        return sorted(m.decode('utf-8') if isinstance(m, bytes) else m
                      for m in members)

    def _close(self):
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                driver.stop()
            except Exception as e:
                LOG.debug('Closing the coordination connection: %s', e)

    def close(self):
        with self._lock:
            self._close()
