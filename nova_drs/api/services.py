# SPDX-License-Identifier: Apache-2.0
"""What the controllers read and write: the database, Nova, tooz.

Each is built at its first use and shared by every request (they are
thread-safe), so that an API process serving only the hosts resource never
connects to Nova, and a test can give fakes.
"""

import threading

from nova_drs.api import nova_servers
from nova_drs.api import replicas as replicas_mod
from nova_drs.db import api as db_api


class Services:
    """The API process's connections.

    :param conf: the service's configuration
    :param db: a :class:`nova_drs.db.api.Database` (default: from
        ``[drs_database]``)
    :param nova: a :class:`~nova_drs.api.nova_servers.NovaServers`
    :param replicas: a :class:`~nova_drs.api.replicas.ReplicaReader`
    """

    def __init__(self, conf, db=None, nova=None, replicas=None):
        self.conf = conf
        self._db = db
        self._nova = nova
        self._replicas = replicas
        self._lock = threading.Lock()

    @property
    def db(self):
        with self._lock:
            if self._db is None:
                # NOTE: a request is answered at once (a 503 when the
                # database is down), not after [drs_database] max_retries
                # attempts to connect that a service makes at start-up
                self._db = db_api.Database(self.conf, max_retries=0)
            return self._db

    @property
    def nova(self):
        with self._lock:
            if self._nova is None:
                self._nova = nova_servers.NovaServers(self.conf)
            return self._nova

    @property
    def replicas(self):
        with self._lock:
            if self._replicas is None:
                self._replicas = replicas_mod.ReplicaReader(self.conf)
            return self._replicas

    def close(self):
        with self._lock:
            if self._replicas is not None:
                self._replicas.close()
            if self._db is not None:
                self._db.dispose()
