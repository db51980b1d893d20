# SPDX-License-Identifier: Apache-2.0
"""The agent's cycle: sample, compute, balloon, publish.

Every ``[drs_agent] interval`` seconds :meth:`AgentManager.run_cycle`

1. reads the host (``/proc``) and every guest (one ``getAllDomainStats``);
2. computes rates, utilisations and smoothed loads, and updates the local
   hotspot detector;
3. runs the balloon policy and applies its targets (each guest's floor
   is the one of its libvirt metadata, else, with ``[drs_agent]
   nova_metadata``, the one of its server metadata in Nova, read in the
   background by :mod:`nova_drs.agent.nova_metadata`, else the
   configured share of its memory);
4. publishes a ``drs.host.metrics`` notification, and a
   ``drs.host.hotspot`` one when the set of hot resources changed.

Every ``[drs_agent] state_save_interval`` seconds, and when it stops, it
saves the balloon policy's per-guest demand estimates in ``[drs_agent]
state_path`` (:mod:`nova_drs.agent.state`), read back when it starts.

A failing cycle is logged and the next one runs on time. While libvirtd
cannot be reached (or refuses to list the guests) nothing is ballooned,
and each cycle publishes a ``drs.host.metrics`` report with
``agent.libvirt_connected`` false, the host section from ``/proc`` and no
guests (they are unknown, not gone), so that the balancer leaves the host
alone until libvirtd is back.

The payloads are built within the limits of the schema
(:mod:`nova_drs.notifications.schema`): free texts and lists are cut to
their maximum length, so that the balancer never refuses a whole report
for one long libvirt error message. The agent does not validate them
itself (some 2 ms of CPU per cycle for 200 guests, which its signature
takes instead); its unit tests check its payloads against the schema.
"""

import dataclasses
import datetime
import gc
import time

from oslo_log import log as logging

from nova_drs.agent import balloon as balloon_mod
from nova_drs.agent import hoststats
from nova_drs.agent import inspector as inspector_mod
from nova_drs.agent import metrics as metrics_mod
from nova_drs.agent import publisher as publisher_mod
from nova_drs.agent import state as state_mod
from nova_drs.model import resources
from nova_drs.notifications import payload as payload_mod
from nova_drs.notifications import schema
from nova_drs import periodic

LOG = logging.getLogger(__name__)

#: allocations (net of deallocations) between two young-generation
#: garbage collections in the agent (Python's default: 700)
GC_THRESHOLD = 2000


def _r(value, digits=3):
    return None if value is None else round(value, digits)


def _cut(text, limit=schema.MAX_NAME):
    """``text`` within the schema's length limit (None stays None)."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit - 3] + '...'


def _timestamp(wallclock):
    return datetime.datetime.fromtimestamp(
        wallclock, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _per_resource(values, convert=_r):
    return {name: convert(v)
            for name, v in zip(resources.RESOURCES, values)}


def host_payload(h, thresholds):
    """The ``host`` section of a metrics payload.

    :param thresholds: resource -> the ``[drs]`` threshold ``h.hot`` was
        judged by (the balancer judges the host by them too)
    """
    return {
        'name': h.name,
        'timestamp': _timestamp(h.wallclock),
        # a host suspended for days would measure a longer one
        'interval_s': (None if h.interval_s is None
                       else _r(min(h.interval_s, schema.MAX_INTERVAL_S))),
        'cpu': {'count': h.cpu_count, 'util': _r(h.cpu_util, 4),
                'iowait': _r(h.iowait, 4), 'steal': _r(h.steal, 4)},
        'memory': {'total_mb': _r(h.total_mb), 'free_mb': _r(h.free_mb),
                   'available_mb': _r(h.available_mb),
                   'used_mb': _r(h.used_mb),
                   'swap_total_mb': _r(h.swap_total_mb),
                   'swap_free_mb': _r(h.swap_free_mb),
                   'major_fault_rate': _r(h.major_fault_rate),
                   'swap_in_mb_s': _r(h.swap_in_mb_s),
                   'swap_out_mb_s': _r(h.swap_out_mb_s)},
        'pressure': h.pressure,
        'disks': [{k: _cut(v) if k == 'name' else _r(v)
                   for k, v in d.items()}
                  for d in h.disks[:schema.MAX_DEVICES]],
        'nics': [{k: _cut(v) if k == 'name' else _r(v)
                  for k, v in n.items()}
                 for n in h.nics[:schema.MAX_DEVICES]],
        'load': _per_resource(h.load, lambda v: _r(v, 4)),
        'load_smoothed': _per_resource(h.load_smoothed, lambda v: _r(v, 4)),
        'hotspot': _per_resource(h.hot, bool),
        'thresholds': thresholds,
    }


def guest_payload(g, b):
    """One entry of the ``guests`` list of a metrics payload."""
    # NOTE: round() inline rather than _r(): some 25 values per guest
    # and hundreds of guests every cycle; same values (None stays None)
    config = g.sample.config
    v = g.vcpu_util
    vcpu_util = None if v is None else [round(u, 4) for u in v]
    name = g.name
    if name is not None and len(name) > schema.MAX_NAME:
        name = _cut(name)
    reason = b.reason or None
    if reason is not None and len(reason) > schema.MAX_REASON:
        reason = _cut(reason, schema.MAX_REASON)
    return {
        'uuid': g.uuid,
        'name': name,
        'state': g.state,
        'vcpus': g.vcpus,
        'cpu_util': None if (v := g.cpu_util) is None else round(v, 4),
        'vcpu_util': vcpu_util,
        'cpu_ready': None if (v := g.cpu_ready) is None else round(v, 4),
        'memory': {
            'max_mb': None if (v := g.max_mb) is None else round(v, 3),
            'actual_mb': None if (v := g.actual_mb) is None else round(v, 3),
            'total_mb': None if (v := g.total_mb) is None else round(v, 3),
            'available_mb': (None if (v := g.available_mb) is None
                             else round(v, 3)),
            'unused_mb': None if (v := g.unused_mb) is None else round(v, 3),
            'used_mb': None if (v := g.used_mb) is None else round(v, 3),
            'rss_mb': None if (v := g.rss_mb) is None else round(v, 3),
            'stats': g.stats,
            'major_fault_rate': (None if (v := g.major_fault_rate) is None
                                 else round(v, 3)),
            'swap_in_mb_s': (None if (v := g.swap_in_mb_s) is None
                             else round(v, 3)),
            'swap_out_mb_s': (None if (v := g.swap_out_mb_s) is None
                              else round(v, 3))},
        'disk': {
            'read_mb_s': None if (v := g.read_mb_s) is None else round(v, 3),
            'write_mb_s': (None if (v := g.write_mb_s) is None
                           else round(v, 3)),
            'read_iops': None if (v := g.read_iops) is None else round(v, 3),
            'write_iops': (None if (v := g.write_iops) is None
                           else round(v, 3))},
        'network': {
            'rx_mb_s': None if (v := g.rx_mb_s) is None else round(v, 3),
            'tx_mb_s': None if (v := g.tx_mb_s) is None else round(v, 3)},
        'balloon': {'has_balloon': config.has_balloon,
                    'autodeflate': config.autodeflate,
                    'free_page_reporting': config.free_page_reporting,
                    'floor_mb': config.floor_mb,
                    'target_mb': (None if (v := b.target_mb) is None
                                  else round(v, 3)),
                    'action': b.action,
                    'applied': b.applied,
                    'reason': reason},
        'migrating': g.sample.migrating,
        'smoothed': {
            'cpu_util': (None if (v := g.smoothed_cpu_util) is None
                         else round(v, 4)),
            'cpu_demand': (None if (v := g.smoothed_cpu_demand) is None
                           else round(v, 4)),
            'memory_used_mb': (None if (v := g.smoothed_used_mb) is None
                               else round(v, 3))},
    }


class AgentManager:
    """Run the agent's cycles.

    The collaborators are built from ``conf`` unless given (tests and the
    benchmark pass their own).
    """

    def __init__(self, conf, inspector=None, host_reader=None,
                 publisher=None, actuator=None, nova_metadata=None):
        self.conf = conf
        self.interval = conf.drs_agent.interval
        self.inspector = (inspector
                          or inspector_mod.LibvirtInspector.from_conf(conf))
        self.host_reader = (host_reader
                            or hoststats.HostStatsReader.from_conf(conf))
        self.publisher = publisher or publisher_mod.Publisher(conf)
        self.metrics = metrics_mod.MetricsCalculator(conf)
        self.actuator = actuator or balloon_mod.BalloonActuator(
            conf, self.inspector)
        #: per-guest floors from Nova (None unless [drs_agent]
        #: nova_metadata); imported only then: it loads openstacksdk
        self.nova_metadata = nova_metadata
        if nova_metadata is None and conf.drs_agent.nova_metadata:
            from nova_drs.agent import nova_metadata as nova_metadata_mod
            self.nova_metadata = (
                nova_metadata_mod.NovaMetadataReader.from_conf(conf))
        self.state = state_mod.StateFile(conf.drs_agent.state_path)
        self._saved_at = None
        # uuid -> (libvirt GuestConfig, Nova floor, merged GuestConfig)
        self._floor_configs = {}
        self.cycles = 0
        self.failed_cycles = 0
        self._hot = []
        #: resource -> [drs] threshold, in every payload (one dict, made
        #: once: the cycle's budget is tight)
        self.thresholds = self.metrics.thresholds
        #: the last payload published (or None), for tests and debugging
        self.last_payload = None

    def start(self):
        self.state.load(self.actuator.policy)
        self._saved_at = time.monotonic()
        self.inspector.start()
        self.publisher.start()
        if self.nova_metadata is not None:
            self.nova_metadata.start()
        # NOTE: the modules and objects loaded so far live as long as the
        # agent: out of the garbage collector's way, each full collection
        # walks only what the cycles allocate
        gc.freeze()
        # NOTE: a cycle allocates thousands of containers (samples,
        # metrics, the payload) that live until the next cycle and are
        # freed by reference counting; with the default threshold (700)
        # the collector walked them 4 times a cycle (2 % of the agent's
        # CPU with 200 guests) to find a few dozen objects of cyclic
        # garbage. Higher still, it would hardly ever run: 5 MB more
        # resident memory.
        threshold, *older = gc.get_threshold()
        gc.set_threshold(max(threshold, GC_THRESHOLD), *older)

    def stop(self):
        self.state.save(self.actuator.policy)
        if self.nova_metadata is not None:
            self.nova_metadata.stop()
        self.publisher.stop()
        self.inspector.close()

    def run(self, stop_event):
        """Run cycles every interval until ``stop_event`` is set.

        Returns once the cycle in progress, if any, has ended. The cycles
        run in a thread of their own (:mod:`nova_drs.periodic`), one every
        interval from the start of the previous one, the first at once; a
        cycle that overruns its interval is logged and the next one
        starts when it ends, as before.
        """
        runner = periodic.Periodic('drs-agent-cycle', [periodic.Task(
            self._cycle, self.interval, run_immediately=True,
            name='the agent cycle')])
        runner.start()
        stop_event.wait()
        runner.stop()
        runner.wait()

    def _cycle(self):
        try:
            self.run_cycle()
        except Exception:
            self.failed_cycles += 1
            LOG.exception('Agent cycle failed')

    def run_cycle(self):
        """One cycle; returns the metrics payload published."""
        started = time.monotonic()
        self.cycles += 1
        host_sample = self.host_reader.read()
        try:
            samples = self.inspector.sample()
        except inspector_mod.InspectorError as e:
            LOG.warning('Guests not sampled this cycle: %s', e)
            samples = None
        if samples is not None and self.nova_metadata is not None:
            self._nova_floors(samples)
        host, guests, gone = self.metrics.update(host_sample, samples)
        self._hotspot(host)
        if samples is None:
            # the guests are unknown, not gone: say so rather than
            # falling silent, and leave the balloons alone
            report = balloon_mod.BalloonReport()
        else:
            report = self.actuator.cycle(host, guests, gone)
            self._save_state(started)
            if len(guests) > schema.MAX_GUESTS:
                LOG.warning('%d guests: only the first %d are reported',
                            len(guests), schema.MAX_GUESTS)
                guests = guests[:schema.MAX_GUESTS]
        payload = {
            'version': payload_mod.VERSION,
            'host': host_payload(host, self.thresholds),
            'guests': [guest_payload(g, report.guests[g.uuid])
                       for g in guests],
            'balloon': {
                'policy': _cut(self.actuator.policy.name),
                'dry_run': self.actuator.dry_run,
                'shrunk_mb': _r(report.shrunk_mb),
                'grown_mb': _r(report.grown_mb),
                'fpr_reclaimed_mb': _r(report.fpr_reclaimed_mb),
                'without_autodeflate':
                    report.without_autodeflate[:schema.MAX_GUESTS],
                'without_free_page_reporting':
                    report.without_free_page_reporting[:schema.MAX_GUESTS]},
            'agent': {
                'cycle_ms': _r(min((time.monotonic() - started) * 1000.0,
                                   schema.MAX_CYCLE_MS), 1),
                # false: the guests could not be read this cycle, the
                # list is empty because they are unknown
                'libvirt_connected': samples is not None,
                'dropped_notifications': self.publisher.dropped},
        }
        self.publisher.publish(payload_mod.METRICS_EVENT, payload)
        self.last_payload = payload
        return payload

    def _save_state(self, now):
        if self._saved_at is None:
            self._saved_at = now
        elif now - self._saved_at >= self.conf.drs_agent.state_save_interval:
            self._saved_at = now
            self.state.save(self.actuator.policy)

    def _nova_floors(self, samples):
        """Give guests without a libvirt floor their floor from Nova.

        The floor of the domain's libvirt metadata, when valid, wins. The
        inspector's cached GuestConfig is not changed: the sample gets a
        copy (made again only when the floor or the XML changes).
        """
        floors = self.nova_metadata.floors([s.uuid for s in samples])
        merged = {}
        for s in samples:
            floor = floors.get(s.uuid)
            if floor is None or s.config.floor_mb is not None:
                continue
            entry = self._floor_configs.get(s.uuid)
            if entry is None or entry[0] is not s.config or entry[1] != floor:
                entry = (s.config, floor,
                         dataclasses.replace(s.config, floor_mb=floor))
            merged[s.uuid] = entry
            s.config = entry[2]
        self._floor_configs = merged

    def _hotspot(self, host):
        hot = [r for r, flag in zip(resources.RESOURCES, host.hot) if flag]
        if hot == self._hot:
            return
        raised = [r for r in hot if r not in self._hot]
        cleared = [r for r in self._hot if r not in hot]
        self._hot = hot
        if raised:
            LOG.warning('Host %(host)s is a hotspot for %(hot)s',
                        {'host': host.name, 'hot': ', '.join(raised)})
        if cleared:
            LOG.info('Host %(host)s is no longer a hotspot for %(hot)s',
                     {'host': host.name, 'hot': ', '.join(cleared)})
        if not self.conf.drs_agent.hotspot_notifications:
            return
        self.publisher.publish(payload_mod.HOTSPOT_EVENT, {
            'version': payload_mod.VERSION,
            'host': host.name,
            'timestamp': _timestamp(host.wallclock),
            'hot': hot,
            'raised': raised,
            'cleared': cleared,
            'load_smoothed': _per_resource(host.load_smoothed,
                                           lambda v: _r(v, 4)),
            'thresholds': self.thresholds,
        })
