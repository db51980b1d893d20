# SPDX-License-Identifier: Apache-2.0
"""Nova scheduler filter: keep new instances off nova-drs hotspots.

Load it into nova-scheduler by import path (doc/source/scheduler.rst)::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = nova_drs.scheduler.filters.DRSHotspotFilter
    enabled_filters = ...,DRSHotspotFilter

A host fails when nova-drs reports one of its resources hot (the flags
of its agent, the hot state the balancer plans with too: the planner never
sends a live migration to a host this filter refuses; the balancer is
about to move instances off it: a new one would make that worse), or,
with ``[drs_scheduler] reject_reserved_destinations``, when it is the
destination of a live migration nova-drs runs or is about to run (a new
instance would take the room the migration counts on) of another instance
than the one being scheduled.

nova-drs must never stop Nova from scheduling: when its data is missing or
older than ``[drs_scheduler] max_age``, the filter passes every host, with
a rate-limited warning, and a host nova-drs knows nothing current about
passes; and when every candidate host of a request would fail, they all
pass (``pass_all_when_all_rejected``, on by default). The data is a
snapshot in memory (:mod:`nova_drs.scheduler.state`):
a request costs one dictionary lookup per host, no database access.
"""

from nova.scheduler import filters
from oslo_log import log as logging

from nova_drs.scheduler import state as state_mod

LOG = logging.getLogger(__name__)


def _is_rebuild(spec_obj):
    # NOTE: imported here as Nova's BaseHostFilter does; nova-scheduler has
    # it loaded already.
    from nova.scheduler import utils

    return utils.request_is_rebuild(spec_obj)


def _instance_uuid(spec_obj):
    """The uuid of the instance being scheduled, None when unset.

    A ``RequestSpec`` without one raises on access (the field is not
    lazy-loadable), rather than giving None.
    """
    is_set = getattr(spec_obj, 'obj_attr_is_set', None)
    if is_set is not None:
        return spec_obj.instance_uuid if is_set('instance_uuid') else None
    return getattr(spec_obj, 'instance_uuid', None)


class DRSHotspotFilter(filters.BaseHostFilter):
    """Reject the hosts nova-drs reports hot or reserves for migrations."""

    # A rebuild stays on its host: nothing to decide.
    RUN_ON_REBUILD = False
    # The nova-drs data does not change between the instances of one
    # request, and the hosts that passed for the first still pass.
    run_filter_once_per_request = True

    def __init__(self, state=None):
        """Use ``state``, or by default the process's own.

        :param state: a :class:`~nova_drs.scheduler.state.SchedulerState`;
            by default the process's own, on Nova's ``CONF``
            (nova-scheduler instantiates filters without arguments)
        """
        super().__init__()
        self._state = (state if state is not None
                       else state_mod.shared_state())

    def filter_all(self, filter_obj_list, spec_obj):
        # NOTE: overridden so that the snapshot, the clock and the options
        # are read once per request rather than once per host.
        if not self.RUN_ON_REBUILD and _is_rebuild(spec_obj):
            return list(filter_obj_list)
        current = self._state.current()
        if current is None:
            return list(filter_obj_list)
        opts = self._state.conf.drs_scheduler
        hosts = list(filter_obj_list)
        instance_uuid = _instance_uuid(spec_obj)
        kept = [host_state for host_state in hosts
                if self._passes(current, host_state,
                                opts.reject_reserved_destinations,
                                instance_uuid)]
        if hosts and not kept and opts.pass_all_when_all_rejected:
            # a cloud where every candidate is hot still has to place new
            # instances: nova-drs then only ranks them (the weigher)
            LOG.warning('nova-drs reports all %d candidate hosts hot or '
                        'reserved: letting them all through '
                        '([drs_scheduler] pass_all_when_all_rejected)',
                        len(hosts))
            return hosts
        return kept

    def host_passes(self, host_state, spec_obj):
        current = self._state.current()
        if current is None:
            return True
        return self._passes(
            current, host_state,
            self._state.conf.drs_scheduler.reject_reserved_destinations,
            _instance_uuid(spec_obj))

    @staticmethod
    def _passes(current, host_state, reject_reserved, instance_uuid):
        entry = current.host(host_state.host)
        if entry is not None and entry.hot:
            LOG.debug('%(host)s fails: nova-drs reports it hot (%(hot)s)',
                      {'host': host_state.host, 'hot': ', '.join(entry.hot)})
            return False
        if reject_reserved:
            # NOTE: not counting the instance's own migration: nova-drs
            # asks Nova to live-migrate it there, and Nova's scheduler
            # checks that destination with this filter too
            count = current.reserved(host_state.host, instance_uuid)
            if count:
                LOG.debug('%(host)s fails: destination of %(count)d '
                          'nova-drs live migration(s)',
                          {'host': host_state.host, 'count': count})
                return False
        return True
