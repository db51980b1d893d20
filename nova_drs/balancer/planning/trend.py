# SPDX-License-Identifier: Apache-2.0
"""How far a hot host's load is still rising: its relief's lead.

A hot host is relieved to its ceiling (each threshold less
``relief_margin``). The balancer sees a host's load a few seconds after
it crosses its threshold (agents every 10-60 s, a 10-s EWMA), often on a
ramp that goes on: relieved to just its ceiling, it climbs back over its
threshold minutes later and is relieved again (PlanetLab days at a 60-s
agent interval: 3-7 % of the relieved hosts hot again within five
minutes, against 0.3 % when the planner only saw the load every 300 s).

The model already carries each guest's recent load per time slice
(``instances.recent_slices``, the destination peak window's
slices). Summed over a host's guests, the last few slices and the load
now give the host's recent trend; when it rises, the host is relieved
by what it would add over ``[drs_balancer] relief_trend_horizon``
seconds more (:func:`rising_extra`), at most :data:`MAX_SHARE` of its
capacity. A flat or falling host is relieved as before: a trend never
lowers a relief.

The slope is the whole host's (its guests' when the plan begins), but
only the guests that stay keep climbing on it: the moves are not known
when the target is set, so the extra overestimates by the slope of the
guests that leave, a bias towards relieving a little more, which the
bound caps. Where the lowered target cannot be reached, the strategy
falls back to the ceiling, then to the threshold
(:mod:`nova_drs.balancer.strategies.hotspot`). Destinations are not
judged on a trend (tried: counting a moved guest's climb on its
destination left more hot hosts relieved only to their ceiling).
"""

import numpy as np

from nova_drs.model import cluster

#: an extra under this share of a host's capacity is none: float32
#: slices of a steady load give slopes of rounding noise, and a relief
#: searched again for a target that close to the ceiling would be the
#: same moves
MIN_SHARE = 0.005
#: seconds of the newest slices the trend is fitted on (with the load
#: now), whatever the window's slice length (one 300-s slice with the
#: default 3600-s window, four of 75 s with a 900-s one): five minutes,
#: what the re-trigger horizon looks at; shorter would follow one
#: burst, longer the ramp before the last
SPAN_S = 300.0
#: the extra relief never exceeds this share of a host's capacity: a
#: slope measured on a burst must not empty the host (0.10: twice the
#: default ``relief_margin``)
MAX_SHARE = 0.10


def slice_count(slice_s, buckets):
    """How many of the newest slices cover :data:`SPAN_S` (1 at least)."""
    return max(1, min(int(round(SPAN_S / slice_s)), buckets))


def slice_order(newest, count, buckets):
    """Rows of the ``count`` newest of ``buckets`` slices, newest first.

    :param newest: the row of ``recent_slices`` holding the newest slice
        (rows before it, cyclically, are one slice older each)
    """
    return [(newest - j) % buckets for j in range(count)]


def guest_slopes(model, rows, slice_s):
    """Per instance of ``rows``: its load trend, units per second.

    (len(rows), 4) in the units of
    :meth:`~nova_drs.model.cluster.ClusterModel.instance_demand`; a
    least-squares slope through the load now (time 0) and the means of
    the newest slices that cover :data:`SPAN_S` (each at its middle,
    ``j + 0.5`` slices back). Zeros when the model has no ordered slices
    (``instances.recent_slices`` or ``instances.recent_newest`` None).
    A guest with no value in a slice counts at its load now there (no
    trend from it), so a guest the balancer just heard of adds none.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((rows.size, len(cluster.RESOURCES)))
    inst = model.instances
    slices, newest = inst.recent_slices, inst.recent_newest
    if slices is None or newest is None or not rows.size or slice_s <= 0:
        return out
    count = slice_count(slice_s, slices.shape[1])
    order = slice_order(int(newest), count, slices.shape[1])
    now = model.instance_demand()[rows]
    taken = np.asarray(slices[rows][:, order, :], dtype=float)
    # CPU slices are shares of the vCPUs, as ``cpu_util``: in cores
    taken[:, :, cluster.CPU] *= inst.vcpus[rows].astype(float)[:, None]
    taken = np.where(np.isfinite(taken), taken, now[:, None, :])
    # the points: the load now at 0, slice j at -(j + 0.5) slices
    t = np.concatenate([[0.0], -(np.arange(count) + 0.5) * slice_s])
    t = t - t.mean()
    weight = t / (t * t).sum()
    return now * weight[0] + np.einsum('ijk,j->ik', taken, weight[1:])


def residents(model, hosts):
    """(instance rows on ``hosts``, position of each one's host in it)."""
    hosts = np.asarray(hosts, dtype=np.int64)
    if hosts.size and (np.diff(hosts) <= 0).any():
        raise ValueError('hosts must be sorted and distinct')
    host = model.instances.host
    if not hosts.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    where = np.minimum(np.searchsorted(hosts, host), hosts.size - 1)
    rows = np.flatnonzero(hosts[where] == host)
    return rows, where[rows]


def host_slopes(model, hosts, slice_s):
    """Per host of ``hosts`` (sorted): its residents' summed slopes.

    (len(hosts), 4), see :func:`guest_slopes`.
    """
    rows, pos = residents(model, hosts)
    per_guest = guest_slopes(model, rows, slice_s)
    out = np.zeros((len(hosts), len(cluster.RESOURCES)))
    for col in range(per_guest.shape[1]):
        out[:, col] = np.bincount(pos, weights=per_guest[:, col],
                                  minlength=len(hosts))
    return out


def rising_extra(model, hosts, slice_s, horizon_s, capacity):
    """Per host of ``hosts``: the extra relief its rising trend asks.

    ``slope x horizon_s`` per resource where that is at least
    :data:`MIN_SHARE` of ``capacity`` (its rows: ``hosts``' capacities,
    in the same units), 0 elsewhere (flat, falling), at most
    :data:`MAX_SHARE` of it.
    """
    if horizon_s <= 0:
        return np.zeros((len(hosts), len(cluster.RESOURCES)))
    capacity = np.asarray(capacity, dtype=float)
    extra = host_slopes(model, hosts, slice_s) * horizon_s
    extra = np.where(extra >= MIN_SHARE * capacity, extra, 0.0)
    return np.minimum(extra, MAX_SHARE * capacity)
