# SPDX-License-Identifier: Apache-2.0
"""The configuration options a simulation read, for the report.

The simulator runs the production detector, strategies and balloon
policy, and each reads the ``[drs...]`` options it needs. Rather than keep
a list of "the options that matter" next to that code (and let it go out
of date), the simulation is given :class:`RecordingConf`, a view of the
configuration object that notes every option read through it; the report
then shows exactly those, with their values and where each value comes
from (default, configuration file, override).
"""

from oslo_config import cfg

#: How :meth:`oslo_config.cfg.ConfigOpts.get_location` names a source.
SOURCES = {
    cfg.Locations.opt_default: 'default',
    cfg.Locations.set_default: 'nova-drs default',
    cfg.Locations.set_override: 'override',
    cfg.Locations.user: 'configuration file',
    cfg.Locations.command_line: 'command line',
    cfg.Locations.environment: 'environment',
}

#: Group key of options outside any group (``[DEFAULT]``).
DEFAULT_GROUP = 'DEFAULT'


class _RecordingGroup:
    """One option group; reading an option records it."""

    def __init__(self, recorder, group, attr):
        self._recorder = recorder
        self._group = group
        self._attr = attr

    def __getattr__(self, name):
        value = getattr(self._attr, name)
        self._recorder.note(self._group, name)
        return value

    def __getitem__(self, name):
        return self.__getattr__(name)


class RecordingConf:
    """A :class:`~oslo_config.cfg.ConfigOpts`, recording options read.

    Everything else (``set_override``, ``clear_override``...) goes to the
    wrapped object unchanged.
    """

    def __init__(self, conf):
        self._conf = conf
        #: group -> option names, in the order first read
        self._read = {}
        #: (group, name) -> location before the first override made here
        self._before = {}
        self._overridden = set()

    # NOTE: oslo.config keeps reporting ``set_override`` as the location
    # of an option after ``clear_override`` (the location is not reset);
    # the simulation overrides destination_policy for a run and clears it,
    # so the location from before the override is kept here

    def set_override(self, name, override, group=None):
        key = (group or DEFAULT_GROUP, name)
        if key not in self._before:
            self._before[key] = self._conf.get_location(name, group)
        self._conf.set_override(name, override, group)
        self._overridden.add(key)

    def clear_override(self, name, group=None):
        self._conf.clear_override(name, group)
        self._overridden.discard((group or DEFAULT_GROUP, name))

    def location(self, name, group=None):
        """Where the option's value comes from (a ``LocationInfo``)."""
        key = (group or DEFAULT_GROUP, name)
        if key in self._before and key not in self._overridden:
            return self._before[key]
        return self._conf.get_location(name, group)

    def note(self, group, name):
        names = self._read.setdefault(group, [])
        if name not in names:
            names.append(name)

    def read(self):
        """{group: [option name]} of the options read so far."""
        return {group: list(names) for group, names in self._read.items()}

    def __getattr__(self, name):
        value = getattr(self._conf, name)
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            return _RecordingGroup(self, name, value)
        if name in self._conf:
            self.note(DEFAULT_GROUP, name)
        return value

    def __getitem__(self, name):
        return self.__getattr__(name)

    def __contains__(self, name):
        return name in self._conf


def _plain(value):
    """``value`` as JSON can hold it (lists, numbers, text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def collect(recording):
    """The options ``recording`` saw read, with value and source.

    :returns: ``{group: {option: {"value": v, "source": s}}}``, groups and
        options sorted by name; ``source`` is a :data:`SOURCES` value, with
        the file name for a configuration file.
    """
    conf = recording._conf
    out = {}
    for group, names in sorted(recording.read().items()):
        key = None if group == DEFAULT_GROUP else group
        options = {}
        for name in sorted(names):
            value = conf[name] if key is None else conf[group][name]
            location = recording.location(name, key)
            if location is None:
                # NOTE: oslo.config gives no location for an option whose
                # value is None (the deprecated per-cycle balloon options)
                source = 'not set' if value is None else 'unknown'
            else:
                source = SOURCES.get(location.location,
                                     str(location.location.name))
            if (location is not None and location.detail
                    and location.location is cfg.Locations.user):
                source = '%s %s' % (source, location.detail)
            options[name] = {'value': _plain(value), 'source': source}
        out[group] = options
    return out
