# SPDX-License-Identifier: Apache-2.0
"""Nova scheduler weigher: prefer the hosts with measured headroom.

Load it into nova-scheduler by import path (doc/source/scheduler.rst)::

    [filter_scheduler]
    weight_classes = nova.scheduler.weights.all_weighers
    weight_classes = nova_drs.scheduler.weighers.DRSLoadWeigher

Nova's RAM and CPU weighers count what flavors allocate; on an
overcommitted cloud what guests really use differs widely from host to
host. This weigher uses the loads nova-drs measures (the smoothed shares
of CPU and memory capacity, as the host's agent smoothed them). Up to a
constant that is the same for every host, it adds::

    - cpu_weight_multiplier x cpu_load - memory_weight_multiplier x memory_load

(loads between 0 and 1), so positive multipliers spread load and negative
ones stack it (``[drs_scheduler]``). Technically the raw weight is
between -1 and 1 (``minval``/``maxval``, so Nova does not stretch it to
the hosts at hand: a difference in load keeps its size) and
:meth:`DRSLoadWeigher.weight_multiplier` is the sum of the multipliers'
absolute values.

A host nova-drs knows nothing current about counts as half loaded, the
neutral middle; when the nova-drs data is missing or older than
``[drs_scheduler] max_age`` every host does, so the weigher changes
nothing, with a rate-limited warning.
"""

from nova.scheduler import weights

from nova_drs.scheduler import state as state_mod


class DRSLoadWeigher(weights.BaseHostWeigher):
    """Prefer hosts whose measured CPU and memory load is low."""

    # A fixed range: Nova normalises (w - minval) / (maxval - minval).
    minval = -1.0
    maxval = 1.0

    def __init__(self, state=None):
        """Use ``state``, or by default the process's own.

        :param state: a :class:`~nova_drs.scheduler.state.SchedulerState`;
            by default the process's own, on Nova's ``CONF``
            (nova-scheduler instantiates weighers without arguments)
        """
        super().__init__()
        self._state = (state if state is not None
                       else state_mod.shared_state())
        self._multiplier = self._shares()[2]

    def _shares(self):
        """(CPU share, memory share, their scale) from the options."""
        opts = self._state.conf.drs_scheduler
        cpu = opts.cpu_weight_multiplier
        memory = opts.memory_weight_multiplier
        scale = abs(cpu) + abs(memory)
        if not scale:
            return 0.0, 0.0, 0.0
        return cpu / scale, memory / scale, scale

    def weight_multiplier(self, host_state):
        # NOTE: Nova calls this once per host after weigh_objects(), which
        # read the options for the request; reading them here again would
        # cost a microsecond per host. The value only differs between two
        # concurrent requests while the configuration is being reloaded.
        return self._multiplier

    def weigh_objects(self, weighed_obj_list, weight_properties):
        # NOTE: overridden so that the snapshot, the clock and the options
        # are read once per request rather than once per host.
        cpu, memory, self._multiplier = self._shares()
        current = self._state.current()
        if current is None or not self._multiplier:
            return [0.0] * len(weighed_obj_list)
        return [self._weigh(current, weighed.obj, cpu, memory)
                for weighed in weighed_obj_list]

    def _weigh_object(self, host_state, weight_properties):
        cpu, memory, _scale = self._shares()
        current = self._state.current()
        if current is None:
            return 0.0
        return self._weigh(current, host_state, cpu, memory)

    @staticmethod
    def _weigh(current, host_state, cpu, memory):
        entry = current.host(host_state.host)
        if entry is None:
            return 0.0
        return cpu * entry.cpu_headroom + memory * entry.memory_headroom
