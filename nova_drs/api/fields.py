# SPDX-License-Identifier: Apache-2.0
"""How values are written in answers."""

import datetime


def isotime(value):
    """ISO 8601 UTC with ``Z`` (``2026-01-01T12:00:00.250000Z``), or None.

    The database keeps naive UTC datetimes.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.isoformat() + 'Z'


def seconds_between(start, end):
    """Seconds from ``start`` to ``end``; None unless both are known."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
