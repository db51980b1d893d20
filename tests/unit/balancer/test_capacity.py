# SPDX-License-Identifier: Apache-2.0
"""Placement capacities shared through host states."""

import datetime
import types

from oslotest import base

from nova_drs.balancer.view import capacity

NOW = datetime.datetime(2026, 12, 7, 12, 0, 0)

CAP = capacity.Capacity(
    provider='rp-1', vcpus=32, memory_mb=131072, reserved_host_cpus=2,
    reserved_host_memory_mb=4096, cpu_allocation_ratio=4.0,
    ram_allocation_ratio=1.5, age_s=30.0)


def row(host, value, written_s_ago):
    return types.SimpleNamespace(
        host=host, capacity=value,
        updated_at=NOW - datetime.timedelta(seconds=written_s_ago))


class TestCapacity(base.BaseTestCase):

    def test_round_trip(self):
        self.assertEqual(CAP, capacity.from_dict(CAP.as_dict()))
        self.assertEqual(set(capacity.FIELDS), set(CAP.as_dict()))

    def test_unusable_values_are_none(self):
        for bad in (None, {}, [], 'x',
                    dict(CAP.as_dict(), vcpus=0),
                    dict(CAP.as_dict(), memory_mb='many'),
                    dict(CAP.as_dict(), provider=''),
                    dict(CAP.as_dict(), age_s=-1),
                    dict(CAP.as_dict(), cpu_allocation_ratio=float('nan')),
                    {k: v for k, v in CAP.as_dict().items()
                     if k != 'ram_allocation_ratio'}):
            self.assertIsNone(capacity.from_dict(bad), bad)

    def test_rows_aged_by_the_row_and_the_owners_read(self):
        rows = [row('fresh', CAP.as_dict(), 60),
                row('limit', CAP.as_dict(), 270),
                row('old', CAP.as_dict(), 271),
                row('future', CAP.as_dict(), -5),
                row('unknown', {}, 0),
                row('null', None, 0)]
        shared = capacity.from_rows(rows, NOW, 300)
        self.assertEqual({'fresh', 'limit', 'future'}, set(shared))
        # 30 s old when written, written 60 s ago
        self.assertEqual(90.0, shared['fresh'].age_s)
        self.assertEqual(300.0, shared['limit'].age_s)
        # a row stamped ahead of the reader's database time is not younger
        # than when it was written
        self.assertEqual(30.0, shared['future'].age_s)
        self.assertEqual(32, shared['fresh'].vcpus)
        self.assertEqual({}, capacity.from_rows(rows, NOW, 0))
