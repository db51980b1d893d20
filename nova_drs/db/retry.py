# SPDX-License-Identifier: Apache-2.0
"""How the database methods retry a transaction that lost a race.

Shared by :mod:`nova_drs.db.api` and its table-group mixins: each
decorated method is one transaction, run again from its start.
"""

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc

#: Deadlocks are retried (the whole transaction) this many times.
DEADLOCK_RETRIES = 5

retry_on_deadlock = oslo_db_api.wrap_db_retry(
    max_retries=DEADLOCK_RETRIES, retry_on_deadlock=True,
    retry_interval=0.1, max_retry_interval=1)

#: ... and inserts that lost a race to the same primary key: the retry
#: finds the row and updates it.
retry_on_deadlock_or_duplicate = oslo_db_api.wrap_db_retry(
    max_retries=DEADLOCK_RETRIES, retry_on_deadlock=True,
    retry_interval=0.1, max_retry_interval=1,
    exception_checker=lambda e: isinstance(e, db_exc.DBDuplicateEntry))
