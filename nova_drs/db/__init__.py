# SPDX-License-Identifier: Apache-2.0
"""The balancer's persistent state (see doc/source/database.rst).

* :mod:`nova_drs.db.models`: the tables (SQLAlchemy declarative models);
* :mod:`nova_drs.db.api`: :class:`~nova_drs.db.api.Database`, the only
  code that reads or writes them, made of one mixin per group of tables
  (:mod:`~nova_drs.db.plans`, :mod:`~nova_drs.db.plan_requests`,
  :mod:`~nova_drs.db.host_states`, :mod:`~nova_drs.db.bad_pairs`,
  :mod:`~nova_drs.db.audit`, :mod:`~nova_drs.db.control`), with
  :mod:`nova_drs.db.common` (what they share) and
  :mod:`nova_drs.db.retry` (how a transaction that lost a race is run
  again);
* :mod:`nova_drs.db.migration`: schema creation and upgrades (alembic
  scripts in ``nova_drs/db/migrations/``), for ``nova-drs-manage db``.

The states of plans and actions, and the changes allowed between them,
are the balancer's: :mod:`nova_drs.balancer.plan_states`.
"""
