# SPDX-License-Identifier: Apache-2.0
"""What a strategy returns: an ordered list of live migrations."""

import dataclasses


@dataclasses.dataclass
class Migration:
    """One live migration, with the reason an operator will read."""

    instance: str
    source: str
    target: str
    reason: str
    #: estimated MiB sent over the wire (memory in use plus re-sent dirty
    #: pages), from :mod:`nova_drs.balancer.planning.cost`
    transfer_mb: float = 0.0
    #: estimated duration at the configured migration bandwidth
    duration_s: float = 0.0

    def to_dict(self):
        return {'instance': self.instance, 'source': self.source,
                'target': self.target, 'reason': self.reason,
                'transfer_mb': round(self.transfer_mb, 1),
                'duration_s': round(self.duration_s, 2)}


@dataclasses.dataclass
class Plan:
    """Migrations in the order to run them, and hosts left hot."""

    strategy: str
    migrations: list = dataclasses.field(default_factory=list)
    #: hosts still above a threshold after the plan
    unresolved: list = dataclasses.field(default_factory=list)
    decision_s: float = 0.0
    #: hosts their agent still flags hot, already back under every
    #: threshold: no move needed (the flag clears after k-of-n samples)
    cooling: list = dataclasses.field(default_factory=list)
    #: hosts the plan empties (``consolidate``): no guest is left on them
    #: once it ran, they can be powered off
    freed: list = dataclasses.field(default_factory=list)
    #: host -> why it is still hot (which limit, no room for which
    #: resource, opt-outs, server groups; "partly relieved" when the plan
    #: lowered its overload without ending it)
    unresolved_reasons: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        doc = {'strategy': self.strategy,
               'decision_s': round(self.decision_s, 6),
               'migrations': [m.to_dict() for m in self.migrations],
               'unresolved': list(self.unresolved),
               'cooling': list(self.cooling)}
        if self.unresolved_reasons:
            doc['unresolved_reasons'] = dict(self.unresolved_reasons)
        if self.freed:
            # only consolidation plans free hosts
            doc['freed'] = list(self.freed)
        return doc
