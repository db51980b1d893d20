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

    def test_column_stores_when_placement_confirmed_it(self):
        column = capacity.to_column(CAP.as_dict(), NOW)
        self.assertNotIn('age_s', column)
        # 30 s before NOW, in whole seconds since the epoch
        self.assertEqual(1796644770, column['confirmed_at'])
        # the same at the next write, 10 s later, 10 s older
        later = NOW + datetime.timedelta(seconds=10.2)
        self.assertEqual(column, capacity.to_column(
            dict(CAP.as_dict(), age_s=40.2), later))
        # read back, it is as old as the reader's time says
        self.assertEqual(40.2, round(
            capacity.from_dict(column, later).age_s, 6))
        # no reader's time: no age, no capacity
        self.assertIsNone(capacity.from_dict(column))
        for bad in (-1, float('nan'), 'old'):
            self.assertRaises(ValueError, capacity.to_column,
                              dict(CAP.as_dict(), age_s=bad), NOW)

    def test_rows_with_confirmed_at_age_by_it_not_by_the_row(self):
        column = capacity.to_column(CAP.as_dict(), NOW)
        # stamped again 200 s later, unchanged: 230 s old now
        rows = [row('restamped', column, -200),
                row('legacy', CAP.as_dict(), -200)]
        later = NOW + datetime.timedelta(seconds=200)
        shared = capacity.from_rows(rows, later, 300)
        self.assertEqual(230.0, shared['restamped'].age_s)
        self.assertEqual(30.0, shared['legacy'].age_s)
        self.assertEqual({'legacy'}, set(capacity.from_rows(rows, later, 229)))
        # confirmed in the reader's future (its server clock stepped
        # back): just confirmed, not younger
        self.assertEqual(0.0, capacity.from_rows(
            rows, NOW - datetime.timedelta(seconds=60), 300)[
                'restamped'].age_s)
