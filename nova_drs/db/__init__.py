# SPDX-License-Identifier: Apache-2.0
"""The balancer's persistent state (see doc/source/database.rst).

* :mod:`nova_drs.db.models`: the tables (SQLAlchemy declarative models);
* :mod:`nova_drs.db.api`: :class:`~nova_drs.db.api.Database`, the only
  code that reads or writes them (with :mod:`nova_drs.db.control`, its
  part for operators' settings and the replicas' reports, and
  :mod:`nova_drs.db.retry`, how a transaction that lost a race is run
  again);
* :mod:`nova_drs.db.migration`: schema creation and upgrades (alembic
  scripts in ``nova_drs/db/migrations/``), for ``nova-drs-manage db``.
"""
