# SPDX-License-Identifier: Apache-2.0
"""A guest's demand estimate in its libvirt domain metadata.

The agent keeps each guest's estimate (:mod:`nova_drs.balloon.demand`)
in a child of the guest's ``<drs:balloon>`` metadata element, the one
that may hold an operator's ``floor_mb``::

    <metadata>
      <drs:balloon xmlns:drs="https://opendev.org/openstack/nova-drs"
                   floor_mb="1024">
        <drs:demand peak_mb="1536.0" history_s="3600"
                    at="2026-05-01T12:00:00Z"/>
      </drs:balloon>
    </metadata>

``peak_mb``: the guest's peak demand over the window; ``history_s``: the
seconds of samples behind it; ``at``: when it was written (UTC), so that
the reader can age it. A child, not a sibling: libvirt keeps one element
per namespace, and setting one (``virDomainSetMetadata``) replaces the
whole of it, so a ``<drs:demand>`` of its own would erase the floor.

This module only turns the element into values and back; it knows
nothing of libvirt (:mod:`.inspector` reads and writes it).
"""

import dataclasses
import datetime
import math
# NOTE: what is parsed is the metadata of the local libvirtd's domain
# definition (root's), never a guest's data; expat refuses entity
# expansion attacks and ElementTree resolves no external entities.
from xml.etree import ElementTree  # nosec B405

ELEMENT = 'balloon'
CHILD = 'demand'


@dataclasses.dataclass(frozen=True)
class CarriedDemand:
    """A demand estimate as read from a domain's metadata."""

    peak_mb: float
    history_s: float
    #: when it was written, Unix time
    at: float


def _local(tag):
    """``tag`` without its ``{namespace}``."""
    return tag.rsplit('}', 1)[-1]


def _finite(value):
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    return number


def _timestamp(at):
    return datetime.datetime.fromtimestamp(
        round(at), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse(balloon):
    """The :class:`CarriedDemand` of a ``<drs:balloon>`` element, or None.

    :param balloon: the element (ElementTree), or None.
    :raises ValueError: the child is there but not valid.
    """
    if balloon is None:
        return None
    # libvirt puts the children of a metadata element in its namespace;
    # older versions left them in none: either is read
    child = next((c for c in balloon if _local(c.tag) == CHILD), None)
    if child is None:
        return None
    try:
        at = datetime.datetime.fromisoformat(child.get('at'))
    except TypeError:
        raise ValueError('no "at" attribute')
    if at.tzinfo is None:
        raise ValueError('"at" %s has no time zone' % child.get('at'))
    return CarriedDemand(peak_mb=_finite(child.get('peak_mb')),
                         history_s=_finite(child.get('history_s')),
                         at=at.timestamp())


def _unqualified(element):
    """``element`` (a copy) with the tags of it and its children bare."""
    out = ElementTree.Element(_local(element.tag), element.attrib)
    out.text = element.text.strip() if element.text else None
    for child in element:
        copy = _unqualified(child)
        copy.tail = None
        out.append(copy)
    return out


def merged(current, peak_mb, history_s, at):
    """The ``<balloon>`` element to write: ``current`` with a new estimate.

    :param current: the element as ``virDomainGetMetadata`` returns it
        (its XML text, tags without prefix), or None when there is none.
    :returns: XML text without namespace prefixes, as
        ``virDomainSetMetadata`` wants it (it puts the element and its
        children in the namespace it is given).

    Every attribute and child of ``current`` but the old estimate is
    kept: the operator's ``floor_mb`` above all.

    :raises ValueError: ``current`` is not XML.
    """
    root = None
    if current:
        try:
            # libvirtd's own XML (see the import)
            parsed = ElementTree.fromstring(current)  # nosec B314
        except ElementTree.ParseError as e:
            # not written rather than written without the floor
            raise ValueError('unreadable <balloon> metadata: %s' % e)
        if _local(parsed.tag) == ELEMENT:
            root = _unqualified(parsed)
    if root is None:
        root = ElementTree.Element(ELEMENT)
    for child in [c for c in root if c.tag == CHILD]:
        root.remove(child)
    ElementTree.SubElement(root, CHILD, {
        'peak_mb': '%.1f' % peak_mb,
        'history_s': '%.0f' % history_s,
        'at': _timestamp(at)})
    return ElementTree.tostring(root, encoding='unicode')
