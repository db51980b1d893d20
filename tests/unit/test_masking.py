# SPDX-License-Identifier: Apache-2.0
"""Passwords kept out of the URLs nova-drs logs (:mod:`nova_drs.masking`)."""

from oslotest import base

from nova_drs import masking


class TestMaskUrl(base.BaseTestCase):

    def test_password_of_the_user_part(self):
        self.assertEqual('redis://:***@cache:6379?db=0',
                         masking.mask_url('redis://:s3cret@cache:6379?db=0'))
        self.assertEqual(
            'mysql+pymysql://nova:***@db/nova?charset=utf8',
            masking.mask_url('mysql+pymysql://nova:pw@db/nova?charset=utf8'))

    def test_secret_query_parameters_only(self):
        self.assertEqual(
            'etcd3+http://h:2379?password=***&timeout=5',
            masking.mask_url('etcd3+http://h:2379?password=x&timeout=5'))
        self.assertEqual(
            'redis://h?sentinel_password=***&api_key=***&db=1',
            masking.mask_url('redis://h?sentinel_password=y&api_key=z&db=1'))

    def test_nothing_to_mask(self):
        for url in ('file:///var/lib/nova-drs/coordination',
                    'zookeeper://zk1:2181', 'redis://user@h:6379', '', None):
            self.assertEqual(url, masking.mask_url(url))

    def test_malformed_urls_still_masked(self):
        # a port that is not a number makes urlsplit refuse the netloc
        self.assertEqual('redis://u:***@h:abc/x',
                         masking.mask_url('redis://u:p@h:abc/x'))
        self.assertNotIn('abc123', masking.mask_url('password=abc123'))
