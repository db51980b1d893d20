# SPDX-License-Identifier: Apache-2.0
from oslotest import base

from nova_drs.agent import cpuset


class TestParseCpuSet(base.BaseTestCase):

    def test_valid(self):
        for spec, cpus in (
                ('3', {3}),
                ('0', {0}),
                ('0-3', {0, 1, 2, 3}),
                ('2-2', {2}),
                ('0,2,4', {0, 2, 4}),
                ('4-12,^8,15', {4, 5, 6, 7, 9, 10, 11, 12, 15}),
                # exclusions apply to the whole list, as in Nova
                ('^8,4-12', {4, 5, 6, 7, 9, 10, 11, 12}),
                ('0-7,^2-5', {0, 1, 6, 7}),
                ('0-3,^9', {0, 1, 2, 3}),
                ('1,1,0-1', {0, 1}),
                # whitespace and empty items, tolerated as Nova does
                (' 1 , 3 - 4 ,^ 3 ', {1, 4}),
                ('\t0-1\n', {0, 1}),
                ('1,,2,', {1, 2}),
                ('65535', {cpuset.MAX_CPU})):
            self.assertEqual(frozenset(cpus), cpuset.parse_cpu_set(spec),
                             spec)

    def test_bad_items(self):
        for spec, item in (
                ('a', "'a'"),
                ('0,x-3', "'x-3'"),
                ('1-', "'1-'"),
                ('-1', "'-1'"),
                ('1-2-3', "'1-2-3'"),
                ('^', "'^'"),
                ('^^1', "'^^1'"),
                ('1.5', "'1.5'"),
                ('+1', "'+1'"),
                ('1;2', "'1;2'"),
                ('0 1', "'0 1'"),
                ('\u0663', "'\u0663'")):  # an Arabic-Indic digit
            e = self.assertRaises(ValueError, cpuset.parse_cpu_set, spec)
            self.assertIn('invalid item %s' % item, str(e), spec)
            self.assertIn('expected N, N-M, ^N or ^N-M', str(e))

    def test_reversed_range(self):
        e = self.assertRaises(ValueError, cpuset.parse_cpu_set, '0,5-3')
        self.assertIn("invalid range '5-3'", str(e))
        self.assertIn('5 is greater than 3', str(e))
        e = self.assertRaises(ValueError, cpuset.parse_cpu_set, '^7-6,1')
        self.assertIn("invalid range '^7-6'", str(e))

    def test_too_large(self):
        e = self.assertRaises(ValueError, cpuset.parse_cpu_set,
                              '0-100000000')
        self.assertIn("invalid item '0-100000000'", str(e))
        self.assertIn('up to 65535', str(e))

    def test_empty_result(self):
        for spec in ('', ' ', ',', '^3', '0-3,^0-3', '2,^2'):
            e = self.assertRaises(ValueError, cpuset.parse_cpu_set, spec)
            self.assertIn('selects no CPU', str(e), spec)


class TestFormatCpuSet(base.BaseTestCase):

    def test_format(self):
        for cpus, text in (
                (set(), ''),
                ({3}, '3'),
                ({0, 1, 2, 5}, '0-2,5'),
                ({7, 1, 2, 4, 5, 6}, '1-2,4-7'),
                (frozenset({0, 2}), '0,2')):
            self.assertEqual(text, cpuset.format_cpu_set(cpus))

    def test_round_trip(self):
        spec = '4-12,^8,15'
        cpus = cpuset.parse_cpu_set(spec)
        self.assertEqual('4-7,9-12,15', cpuset.format_cpu_set(cpus))
        self.assertEqual(cpus, cpuset.parse_cpu_set(
            cpuset.format_cpu_set(cpus)))
