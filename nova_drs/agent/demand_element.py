# SPDX-License-Identifier: Apache-2.0
"""A guest's demand estimate in its libvirt domain metadata.

The agent keeps each guest's estimate (:mod:`nova_drs.balloon.demand`)
in a child of the guest's ``<drs:balloon>`` metadata element, the one
that may hold an operator's ``floor_mb``::

    <metadata>
      <drs:balloon xmlns:drs="https://opendev.org/openstack/nova-drs"
                   floor_mb="1024">
        <drs:demand peak_mb="1536.0" history_s="3600"
                    rise_mb_per_sqrt_s="96.0" rise_history_s="86400"
                    at="2026-05-01T12:00:00Z"/>
      </drs:balloon>
    </metadata>

``peak_mb``: the guest's peak demand over the window; ``history_s``: the
seconds of samples behind it; ``rise_mb_per_sqrt_s``: the largest rise
of its demand over one agent cycle within the rise window, per square
root of the seconds it took (what sizes its headroom; independent of the
agent interval, so that a host with another interval reads it right);
``rise_history_s``: the seconds of samples behind the rise; ``at``: when
it was written (UTC), so that the reader can age it. The two rise
attributes are optional (both or neither): an element written by an
agent that kept no rise, or before it had seen one, has neither, and
reads as an estimate without a rise.

A child, not a sibling: libvirt keeps one element per namespace, and
setting one (``virDomainSetMetadata``) replaces the whole of it, so a
``<drs:demand>`` of its own would erase the floor.

This module only turns the element into values and back; it knows
nothing of libvirt (:mod:`.inspector` reads and writes it).
"""

import dataclasses
import datetime
import math
import typing
# NOTE: what is parsed is the metadata of the local libvirtd's domain
# definition (root's), never a guest's data; expat refuses entity
# expansion attacks and ElementTree resolves no external entities.
from xml.etree import ElementTree  # nosec B405

ELEMENT = 'balloon'
CHILD = 'demand'
#: the optional attributes of the rise estimate
RISE = 'rise_mb_per_sqrt_s'
RISE_HISTORY = 'rise_history_s'


@dataclasses.dataclass(frozen=True)
class CarriedDemand:
    """A demand estimate as read from a domain's metadata."""

    peak_mb: float
    history_s: float
    #: when it was written, Unix time
    at: float
    #: MiB per sqrt(second); None when the element has none
    rise_mb_per_sqrt_s: typing.Optional[float] = None
    #: seconds; None with the rise
    rise_history_s: typing.Optional[float] = None


def _local(tag):
    """``tag`` without its ``{namespace}``."""
    return tag.rsplit('}', 1)[-1]


def _finite(child, attribute):
    """The attribute's value: a finite number, at least 0.

    :raises ValueError: missing or anything else, saying which and why
        (the reader logs it).
    """
    value = child.get(attribute)
    if value is None:
        raise ValueError('no "%s" attribute' % attribute)
    try:
        number = float(value)
    except ValueError:
        raise ValueError('"%s" %r is not a number' % (attribute, value))
    if not math.isfinite(number) or number < 0:
        raise ValueError('"%s" %r is not a finite number, at least 0'
                         % (attribute, value))
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
    rise = rise_history = None
    # NOTE: a rise that is there but not valid makes the whole estimate
    # invalid, as a bad peak does: the agent writes the element whole,
    # so one bad attribute says it was edited or cut, and nothing in it
    # is to be trusted
    if (child.get(RISE) is not None
            or child.get(RISE_HISTORY) is not None):
        rise = _finite(child, RISE)
        rise_history = _finite(child, RISE_HISTORY)
    return CarriedDemand(peak_mb=_finite(child, 'peak_mb'),
                         history_s=_finite(child, 'history_s'),
                         at=at.timestamp(), rise_mb_per_sqrt_s=rise,
                         rise_history_s=rise_history)


def _unqualified(element):
    """``element`` (a copy) with the tags of it and its children bare."""
    out = ElementTree.Element(_local(element.tag), element.attrib)
    out.text = element.text.strip() if element.text else None
    for child in element:
        copy = _unqualified(child)
        copy.tail = None
        out.append(copy)
    return out


def merged(current, peak_mb, history_s, at, rise_mb_per_sqrt_s=None,
           rise_history_s=None):
    """The ``<balloon>`` element to write: ``current`` with a new estimate.

    :param current: the element as ``virDomainGetMetadata`` returns it
        (its XML text, tags without prefix), or None when there is none.
    :returns: XML text without namespace prefixes, as
        ``virDomainSetMetadata`` wants it (it puts the element and its
        children in the namespace it is given).

    Every attribute and child of ``current`` but the old estimate is
    kept: the operator's ``floor_mb`` above all. The rise attributes are
    written when ``rise_mb_per_sqrt_s`` is not None (``rise_history_s``
    None: 0 s).

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
    attributes = {'peak_mb': '%.1f' % peak_mb,
                  'history_s': '%.0f' % history_s}
    if rise_mb_per_sqrt_s is not None:
        # two decimals: the headroom is the rise times the square root
        # of the agent interval, so rounding to 0.005 MiB/sqrt(s) moves
        # it by at most 0.3 MiB even at the longest interval (3600 s)
        attributes[RISE] = '%.2f' % rise_mb_per_sqrt_s
        attributes[RISE_HISTORY] = '%.0f' % (rise_history_s or 0.0)
    attributes['at'] = _timestamp(at)
    ElementTree.SubElement(root, CHILD, attributes)
    return ElementTree.tostring(root, encoding='unicode')
