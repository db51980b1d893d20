# SPDX-License-Identifier: Apache-2.0
"""Hosts freed by consolidation: which are empty, and their Nova service.

The balancer's consolidation pass (``[drs_balancer]
consolidation_interval``) plans with the ``consolidate`` strategy
(:mod:`nova_drs.balancer.strategies.consolidate`). Once such a plan has
run, its source hosts run no guest. This module says

* which owned hosts are empty (:func:`host_states`): no guest in Nova's
  view, and no migration on its way to them; the API shows them as
  ``empty`` ("can be powered off"), or ``disabled`` when nova-drs also
  disabled their nova-compute service;
* which of them to disable (:func:`to_disable`): with ``[drs_balancer]
  disable_freed_hosts``, the empty, enabled hosts that a consolidation
  plan emptied, so the Nova scheduler does not fill them again;
* which disabled host to enable again when a hotspot needs room
  (:func:`room_candidates`): only a host nova-drs disabled, recognised by
  the reason it gave (:data:`DISABLED_REASON`), never one an operator
  disabled; and it must be reporting (powered on).

:class:`Services` makes the two Nova calls (``PUT /os-services``) through
the balancer's openstacksdk connection. nova-drs never powers a host off
or on: that is the operator's (or Ironic's) business, driven by the
``consolidation`` field of the API's hosts, by Nova's ``service.update``
notifications, or by the ``consolidation.*`` audit events
(doc/source/consolidation.rst).
"""

from oslo_log import log as logging

from nova_drs.balancer import plan_states
from nova_drs.db import models

LOG = logging.getLogger(__name__)

#: The disabled reason nova-drs gives Nova; a service disabled with a
#: reason that starts with it is one nova-drs may enable again.
DISABLED_REASON = 'nova-drs: freed by consolidation'

#: The strategy whose plans free hosts.
STRATEGY = 'consolidate'

#: Audit events: a freed host's service disabled, enabled again for a
#: hotspot, wanted by a hotspot but not reporting (powered off).
EVENT_DISABLED = 'consolidation.host_disabled'
EVENT_ENABLED = 'consolidation.host_enabled'
EVENT_WANTED = 'consolidation.host_wanted'

#: How many recent consolidation plans are read to know which hosts
#: they emptied.
RECENT_PLANS = 50


def freed_by_drs(reason):
    """Was a service disabled by nova-drs's consolidation?"""
    return bool(reason) and reason.strip().startswith(DISABLED_REASON)


def empty_hosts(model, owned, in_flight=()):
    """Owned hosts with no guest in ``model`` and none on its way.

    :param in_flight: actions (with ``target``) running or pending
    """
    busy = {model.hosts.names[h] for h in set(model.instances.host.tolist())}
    busy.update(a.target for a in in_flight if a.target)
    return sorted(h for h in model.hosts.names
                  if h in owned and h not in busy)


def host_states(model, owned, in_flight=(), disabled_reasons=None):
    """host -> ``empty`` or ``disabled`` for the owned empty hosts."""
    reasons = disabled_reasons or {}
    return {host: (models.CONSOLIDATION_DISABLED
                   if freed_by_drs(reasons.get(host))
                   else models.CONSOLIDATION_EMPTY)
            for host in empty_hosts(model, owned, in_flight)}


def consolidation_sources(db):
    """host -> the newest consolidation plan emptying it.

    Of the recent plans of the ``consolidate`` strategy that are applying
    or applied.
    """
    hosts = {}
    for plan in db.list_plans(
            state=(plan_states.PLAN_APPLYING, plan_states.PLAN_APPLIED),
            limit=RECENT_PLANS):
        if plan.strategy != STRATEGY:
            continue
        for action in db.get_plan(plan.uuid).actions:
            # newest first: keep the first plan seen
            hosts.setdefault(action.source, plan.uuid)
    return hosts


def already_disabled(db, host, plan_uuid):
    """Did nova-drs disable ``host`` once already for this plan?

    Then it does not again: an operator who enabled the host meanwhile
    decided so.
    """
    return any((event.detail or {}).get('host') == host
               for event in db.list_events(object_uuid=plan_uuid,
                                           kind=EVENT_DISABLED))


def to_disable(model, owned, in_flight, disabled_reasons, sources):
    """Empty, enabled owned hosts a consolidation plan emptied."""
    reasons = disabled_reasons or {}
    return [host for host in empty_hosts(model, owned, in_flight)
            if host in sources and host not in reasons
            and not model.hosts.disabled[model.host_index[host]]]


def room_candidates(model, owned, disabled_reasons, fresh, near=()):
    """Hosts nova-drs disabled that may take load again, best first.

    :param fresh: hosts whose agent reports now (powered on)
    :param near: hosts that need room; a candidate in one of their
        availability zones comes first
    """
    zones = {model.hosts.availability_zone[model.host_index[h]]
             for h in near if h in model.host_index}
    found = [h for h, reason in disabled_reasons.items()
             if freed_by_drs(reason) and h in owned and h in fresh
             and h in model.host_index]
    return sorted(found, key=lambda h: (
        model.hosts.availability_zone[model.host_index[h]] not in zones, h))


def waiting_hosts(disabled_reasons, owned, fresh):
    """Hosts nova-drs disabled whose agent does not report (powered off).

    A hotspot that needs room can use them only once an operator (or a
    power hook) turns them on again.
    """
    return sorted(h for h, reason in disabled_reasons.items()
                  if freed_by_drs(reason) and h in owned and h not in fresh)


class Services:
    """Disable and enable nova-compute services through openstacksdk."""

    BINARY = 'nova-compute'

    def __init__(self, conn):
        self.conn = conn

    def _service(self, host):
        for svc in self.conn.compute.services(binary=self.BINARY):
            if svc.host == host:
                return svc
        raise LookupError('no %s service on host %s' % (self.BINARY, host))

    def disable(self, host):
        svc = self._service(host)
        self.conn.compute.disable_service(svc, host=host, binary=self.BINARY,
                                          disabled_reason=DISABLED_REASON)
        LOG.info('disabled the %s service of %s (%s): it runs no guest '
                 'and can be powered off', self.BINARY, host,
                 DISABLED_REASON)

    def enable(self, host):
        svc = self._service(host)
        self.conn.compute.enable_service(svc, host=host, binary=self.BINARY)
        LOG.info('enabled the %s service of %s again: a hotspot needs '
                 'room', self.BINARY, host)
