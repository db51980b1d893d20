# SPDX-License-Identifier: Apache-2.0
"""Planning strategies: a cluster model in, a plan out.

A strategy is a class registered under the ``nova_drs.balancer.strategies``
entry point namespace; the entry point name is its name. Its contract::

    class MyStrategy(nova_drs.balancer.strategies.Strategy):
        def plan(self, model):
            return nova_drs.balancer.planning.plan.Plan(...)

``__init__`` receives the oslo.config object; ``plan`` receives a
:class:`~nova_drs.model.cluster.ClusterModel`, must not change it, and
returns a :class:`~nova_drs.balancer.planning.plan.Plan` whose migrations are
in the order to run them.
"""

import abc

from nova_drs.balancer.planning import destinations
from nova_drs.model import cluster
from nova_drs import plugins

NAMESPACE = 'nova_drs.balancer.strategies'


class StrategyNotFound(plugins.PluginNotFound):
    """No strategy of that name is installed."""


class Strategy(metaclass=abc.ABCMeta):
    """Base class of planning strategies."""

    #: set by :func:`load` to the entry point name
    name = None

    def __init__(self, conf):
        self.conf = conf
        self.thresholds = cluster.thresholds_from_conf(conf)

    @property
    def rules(self):
        """Destination policy, comfort level and relief margin.

        A :class:`~nova_drs.balancer.planning.destinations.Rules` read from
        ``[drs_balancer]`` (``destination_policy``,
        ``destination_headroom``, ``relief_margin``); a
        :class:`~nova_drs.balancer.planning.placement.PlacementState` carries
        the same as ``state.rules``, with the per-host ``ceiling`` (each
        threshold less the margin) and ``comfort_gap`` arrays.
        """
        return destinations.Rules.from_conf(self.conf)

    @abc.abstractmethod
    def plan(self, model):
        """Return a :class:`~nova_drs.balancer.planning.plan.Plan`.

        :param model: the cluster model to plan for
        """


def available():
    """Names of the installed strategies."""
    return plugins.names(NAMESPACE)


def load(name, conf):
    """Instantiate the strategy registered as ``name``."""
    return plugins.load(NAMESPACE, name, conf, 'strategy', StrategyNotFound)
