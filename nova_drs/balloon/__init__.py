# SPDX-License-Identifier: Apache-2.0
"""Autoballooning: what each guest's balloon should be, from its stats.

A balloon policy is a class registered under the
``nova_drs.balloon.policies`` entry point namespace. It sees one host's
memory and its guests' memory statistics each cycle and returns a balloon
target per guest. It never talks to libvirt: the agent turns targets into
``virDomainSetMemoryFlags`` calls, and the simulator feeds simulated stats
to the same class.

Units are MiB throughout.
"""

import abc
import dataclasses
import typing

from nova_drs import plugins

NAMESPACE = 'nova_drs.balloon.policies'


@dataclasses.dataclass
class GuestMemory:
    """One guest's memory as the balloon driver reports it."""

    name: str
    #: flavor memory: the ceiling a balloon never exceeds
    max_mb: float
    #: current balloon size (memory the guest has now)
    actual_mb: float
    #: memory the guest can use without swapping (balloon stat ``usable``,
    #: the guest's MemAvailable); None when the guest reports no stats
    usable_mb: float = None
    #: guest's free memory (balloon stat ``unused``), None when unknown
    unused_mb: float = None
    #: host memory behind the guest (QEMU's resident memory), None when
    #: unknown: shrinking the balloon over memory the guest never
    #: touched gives the host nothing
    rss_mb: float = None
    #: major page faults per second since the last sample
    major_fault_rate: float = 0.0
    #: MiB per second swapped in since the last sample
    swap_in_rate: float = 0.0
    #: per-instance floor (from metadata), None for the configured share
    floor_mb: float = None
    #: the guest has a virtio balloon device
    has_balloon: bool = True
    #: being live-migrated: leave its balloon alone
    migrating: bool = False
    #: memballoon has deflate-on-OOM (``autodeflate='on'``)
    autodeflate: bool = False
    #: memballoon has free page reporting (``freePageReporting='on'``)
    free_page_reporting: bool = False


@dataclasses.dataclass
class HostMemory:
    """The host's memory."""

    total_mb: float
    #: MemAvailable of the host
    available_mb: float
    #: memory in use outside the guests (:func:`outside_mb`), None when
    #: unknown
    outside_mb: float = None


def outside_mb(total_mb, available_mb, guests_rss_mb):
    """Host memory in use outside its guests, MiB (at least 0).

    The memory the host uses (its memory less MemAvailable) less what the
    processes of its guests hold (QEMU's resident memory, of every guest
    that runs, incoming migrations included): the host's own processes,
    and anything else running on it. The agent gives the RSS libvirt
    reports; a guest whose RSS is unknown counts its balloon size, so
    that what is left is never more than what runs outside the guests.
    The simulator gives the memory it backs for each guest.

    :param guests_rss_mb: iterable of the guests' resident memory, MiB.
    """
    return max(float(total_mb) - float(available_mb)
               - float(sum(guests_rss_mb)), 0.0)


@dataclasses.dataclass
class BalloonTarget:
    """What the policy wants for one guest."""

    name: str
    target_mb: float
    #: 'grow', 'shrink' or 'hold'
    action: str
    reason: str


# NOTE: a named tuple: asked for every guest every cycle (the agent
# checks whether its estimate is due to be written), and cheaper to make
# than a frozen dataclass
class DemandEstimate(typing.NamedTuple):
    """One guest's demand estimate, as it travels between hosts."""

    #: peak demand over the window, MiB
    peak_mb: float
    #: seconds of samples behind it (at most the window)
    history_s: float
    #: largest rise of demand over one cycle within the rise window, MiB
    #: per square root of the seconds it took (so that it means the same
    #: at another host's agent interval); None when unknown (no rise
    #: history, or a policy or an older agent that keeps none)
    rise_mb_per_sqrt_s: typing.Optional[float] = None
    #: seconds of samples behind the rise (at most the rise window);
    #: None with the rise
    rise_history_s: typing.Optional[float] = None


class BalloonPolicy(metaclass=abc.ABCMeta):
    """Base class of balloon policies.

    :param conf: the oslo.config object (``[drs_balloon]`` group).
    """

    name = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def targets(self, host, guests):
        """Return a :class:`BalloonTarget` for every guest to change.

        :param host: :class:`HostMemory`
        :param guests: list of :class:`GuestMemory`
        """

    def forget(self, name):
        """Drop per-guest state for a guest that went away."""

    def guest_estimate(self, name):
        """What the policy learnt of one guest, to travel with it.

        A :class:`DemandEstimate`, or None when it has none (no history
        yet, or the policy keeps none); its rise is None when the policy
        has no rise estimate of the guest. The agent writes it into the
        guest's domain metadata, which a live migration carries to the
        destination host.
        """
        return None

    def adopt_estimate(self, name, estimate, age_s):
        """Start the history of ``name`` from an estimate made elsewhere.

        :param estimate: a :class:`DemandEstimate` made ``age_s`` seconds
            ago (by the agent of the host the guest came from), with or
            without a rise.
        :returns: True when any of it was adopted; False when the policy
            has a history of that guest already, or cannot use it.
        """
        return False

    def export_state(self):
        """What the policy learnt that should survive a restart.

        Plain data (dicts, lists, numbers, strings) that the agent saves
        as JSON and gives back to :meth:`restore_state` after a restart.
        """
        return {}

    def restore_state(self, state, elapsed_s=0.0):
        """Restore :meth:`export_state` output saved ``elapsed_s`` ago.

        Returns the number of guests restored.
        """
        return 0


class PolicyNotFound(plugins.PluginNotFound):
    """No balloon policy of that name is installed."""


def load(name, conf, **kwargs):
    """Instantiate the balloon policy registered as ``name``.

    ``kwargs`` (``clock``, ``interval_s``) go to the policy's constructor;
    give only those it takes.
    """
    return plugins.load(NAMESPACE, name, conf, 'balloon policy',
                        PolicyNotFound, **kwargs)
