# SPDX-License-Identifier: Apache-2.0
"""Autoballooning: policy targets turned into balloon resizes.

The policy (``[drs_balloon] policy``, loaded by stevedore from
``nova_drs.balloon.policies``) decides; this module feeds it the cycle's
metrics, applies what it returns with ``virDomainSetMemoryFlags(kib,
VIR_DOMAIN_AFFECT_LIVE)`` and accounts for it:

* guests that are not running, or are being migrated (lifecycle and
  migration events, then the domain's job info right before a resize) are
  left alone;
* ``[drs_balloon] dry_run`` computes and reports targets without applying
  them;
* guests whose memballoon lacks ``autodeflate='on'`` (deflate-on-OOM) or
  ``freePageReporting='on'`` are reported once in the log and in every
  notification;
* each guest's demand estimate travels with it in its domain metadata
  (:mod:`.demand_carrier`): written rarely after the cycle's resizes,
  read for guests seen for the first time before the policy runs;
* memory returned to the host is counted by path: balloon inflation
  (``shrunk_mb``), and free page reporting (``fpr_reclaimed_mb``, estimated
  as the fall of QEMU's resident memory of guests with free page reporting
  whose balloon did not shrink); memory given back to guests is
  ``grown_mb``.
"""

import dataclasses

from oslo_log import log as logging

from nova_drs.agent import demand_carrier
from nova_drs.agent import inspector as inspector_mod
from nova_drs import balloon

LOG = logging.getLogger(__name__)


# NOTE: slots: one per guest per cycle, made faster and smaller
@dataclasses.dataclass(slots=True)
class GuestBalloon:
    """What happened to one guest's balloon this cycle."""

    target_mb: float = None
    #: 'grow', 'shrink', 'hold' (the policy chose not to act) or 'none'
    action: str = 'none'
    applied: bool = False
    reason: str = None


@dataclasses.dataclass
class BalloonReport:
    """One cycle of ballooning."""

    guests: dict = dataclasses.field(default_factory=dict)
    shrunk_mb: float = 0.0
    grown_mb: float = 0.0
    fpr_reclaimed_mb: float = 0.0
    without_autodeflate: list = dataclasses.field(default_factory=list)
    without_free_page_reporting: list = dataclasses.field(
        default_factory=list)


class BalloonActuator:
    """Run the balloon policy and apply its targets through the inspector.

    :param conf: configuration (``[drs_balloon]``).
    :param inspector: a :class:`nova_drs.agent.inspector.LibvirtInspector`.
    :param clock: the policy's clock (monotonic seconds; tests pass a fake).
    :param wallclock: Unix time, that the carried estimates are dated
        with (tests pass a fake).
    :param interval_s: the agent interval the policy and the carrier
        assume (default ``[drs_agent] interval``; the simulator passes
        its agents' interval).
    :param warn_config: warn once per guest whose balloon lacks
        autodeflate or free page reporting (the simulator's guests are
        configured by the run's options, not by an operator: it passes
        False).
    """

    def __init__(self, conf, inspector, clock=None, wallclock=None,
                 interval_s=None, warn_config=True):
        self.warn_config = warn_config
        kwargs = {'clock': clock} if clock is not None else {}
        if interval_s is not None:
            kwargs['interval_s'] = interval_s
        self.policy = balloon.load(conf.drs_balloon.policy, conf, **kwargs)
        self.dry_run = conf.drs_balloon.dry_run
        self.inspector = inspector
        if wallclock is not None:
            kwargs['wallclock'] = wallclock
        self.carrier = demand_carrier.DemandCarrier(conf, inspector,
                                                    self.policy, **kwargs)
        self._warned = set()
        self._last = {}
        #: totals since start, MiB
        self.totals = {'shrunk_mb': 0.0, 'grown_mb': 0.0,
                       'fpr_reclaimed_mb': 0.0}

    def forget(self, uuids):
        self.carrier.forget(uuids)
        for uuid in uuids:
            self.policy.forget(uuid)
            self._last.pop(uuid, None)
            self._warned = {w for w in self._warned if w[0] != uuid}

    def _warn_once(self, g, what, message):
        if (g.uuid, what) not in self._warned:
            self._warned.add((g.uuid, what))
            LOG.warning('Guest %(name)s (%(uuid)s): %(message)s',
                        {'name': g.name, 'uuid': g.uuid, 'message': message})

    def _warn_about(self, g, config):
        if config.has_balloon and not config.autodeflate:
            self._warn_once(g, 'autodeflate',
                            'memballoon without autodeflate=\'on\': a '
                            'shrunk balloon cannot deflate on OOM')
        if config.has_balloon and not config.free_page_reporting:
            self._warn_once(g, 'fpr',
                            'memballoon without freePageReporting=\'on\': '
                            'its freed memory returns to the host only '
                            'through the balloon')

    def _memory(self, g):
        config = g.sample.config
        if self.warn_config:
            self._warn_about(g, config)
        return balloon.GuestMemory(
            name=g.uuid, max_mb=g.max_mb, actual_mb=g.actual_mb,
            usable_mb=g.available_mb if g.stats else None,
            unused_mb=g.unused_mb, rss_mb=g.rss_mb,
            major_fault_rate=g.major_fault_rate or 0.0,
            swap_in_rate=g.swap_in_mb_s or 0.0,
            floor_mb=config.floor_mb,
            has_balloon=config.has_balloon and g.max_mb > 0,
            migrating=g.sample.migrating,
            autodeflate=config.autodeflate,
            free_page_reporting=config.free_page_reporting)

    def cycle(self, host, guests, gone=()):
        """Balloon the guests of one cycle.

        :param host: :class:`nova_drs.agent.metrics.HostMetrics`.
        :param guests: list of :class:`nova_drs.agent.metrics.GuestMetrics`.
        :param gone: uuids of guests that went away since the last cycle.
        :returns: :class:`BalloonReport`.
        """
        self.forget(gone)
        report = BalloonReport()
        running = []
        for g in guests:
            report.guests[g.uuid] = GuestBalloon()
            config = g.sample.config
            if config.has_balloon and not config.autodeflate:
                report.without_autodeflate.append(g.uuid)
            if config.has_balloon and not config.free_page_reporting:
                report.without_free_page_reporting.append(g.uuid)
            if g.state != 'running':
                report.guests[g.uuid] = GuestBalloon(
                    action='hold', reason='guest is %s' % g.state)
                continue
            running.append(g)
        # before the policy's first sample of an arriving guest
        self.carrier.adopt(guests)
        memories = [self._memory(g) for g in running]
        targets = self.policy.targets(self._host_memory(host, guests),
                                      memories)
        by_uuid = {g.uuid: g for g in running}
        shrunk = set()
        for t in targets:
            g = by_uuid.get(t.name)
            if g is None:
                continue
            report.guests[g.uuid] = self._apply(g, t, report)
            if report.guests[g.uuid].applied and t.action == 'shrink':
                shrunk.add(g.uuid)
        report.fpr_reclaimed_mb = self._fpr_reclaimed(running, shrunk)
        self._carry(running)
        for key in self.totals:
            self.totals[key] += getattr(report, key)
        if report.shrunk_mb or report.grown_mb:
            grown = sum(1 for b in report.guests.values()
                        if b.applied and b.action == 'grow')
            LOG.info('Balloons: %(shrunk)d guests shrunk by %(shrunk_mb).0f '
                     'MiB, %(grown)d grown by %(grown_mb).0f MiB',
                     {'shrunk': len(shrunk), 'shrunk_mb': report.shrunk_mb,
                      'grown': grown, 'grown_mb': report.grown_mb})
        return report

    @staticmethod
    def _host_memory(host, guests):
        """The host's memory, with what runs outside its guests.

        Every guest sampled has a QEMU process (the inspector samples the
        active domains: running, paused, migrating in); a guest whose RSS
        libvirt does not report counts its balloon size (see
        :func:`nova_drs.balloon.outside_mb`).
        """
        outside = None
        if host.total_mb:
            outside = balloon.outside_mb(
                host.total_mb, host.available_mb,
                (g.actual_mb if g.rss_mb is None else g.rss_mb
                 for g in guests))
        return balloon.HostMemory(total_mb=host.total_mb,
                                  available_mb=host.available_mb,
                                  outside_mb=outside)

    def _carry(self, running):
        """Write the estimates due; whatever happens, the cycle goes on."""
        try:
            self.carrier.write(running, self.dry_run)
        except Exception as e:
            # a fault of the writer must cost the migrations their
            # estimates, never the host its balloons and metrics
            if ('carrier', type(e)) not in self._warned:
                self._warned.add(('carrier', type(e)))
                LOG.exception('Writing demand estimates failed')

    def _apply(self, g, target, report):
        if target.action == 'hold':
            return GuestBalloon(target_mb=target.target_mb, action='hold',
                                reason=target.reason)
        mb = min(max(target.target_mb, 0.0), g.max_mb)
        out = GuestBalloon(target_mb=mb, action=target.action,
                           reason=target.reason)
        if self.dry_run:
            out.reason = '%s (dry run)' % target.reason
            LOG.info('Dry run: would %(action)s %(name)s from %(actual).0f '
                     'to %(target).0f MiB: %(reason)s',
                     {'action': target.action, 'name': g.name,
                      'actual': g.actual_mb, 'target': mb,
                      'reason': target.reason})
            return out
        try:
            if self.inspector.job_active(g.uuid):
                return GuestBalloon(target_mb=g.actual_mb, action='hold',
                                    reason='being migrated (job running)')
            self.inspector.set_memory(g.uuid, round(mb * 1024))
        except inspector_mod.GuestGone as e:
            LOG.debug('Guest %s went away before its balloon was resized: '
                      '%s', g.name, e)
            out.reason = 'guest went away'
            return out
        except inspector_mod.InspectorError as e:
            LOG.warning('Cannot resize the balloon of %(name)s: %(error)s',
                        {'name': g.name, 'error': e})
            out.reason = 'failed: %s' % e
            return out
        out.applied = True
        delta = mb - g.actual_mb
        if delta < 0:
            report.shrunk_mb += -delta
        else:
            report.grown_mb += delta
        LOG.debug('Balloon of %(name)s: %(action)s %(actual).0f -> '
                  '%(target).0f MiB (%(reason)s)',
                  {'name': g.name, 'action': target.action,
                   'actual': g.actual_mb, 'target': mb,
                   'reason': target.reason})
        return out

    def _fpr_reclaimed(self, guests, shrunk):
        """Memory free page reporting gave back since the last cycle."""
        total = 0.0
        for g in guests:
            last = self._last.get(g.uuid)
            self._last[g.uuid] = (g.rss_mb, g.actual_mb)
            if (last is None or g.uuid in shrunk or g.rss_mb is None
                    or last[0] is None
                    or not g.sample.config.free_page_reporting
                    or g.actual_mb < last[1]):
                continue
            total += max(last[0] - g.rss_mb, 0.0)
        return total
