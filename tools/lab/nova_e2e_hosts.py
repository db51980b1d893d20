# SPDX-License-Identifier: Apache-2.0
"""Take the end-to-end lab's compute hosts out of Nova again.

Usage::

    python nova_e2e_hosts.py NOVA_URL remove HOST[,HOST...]

Run it once the hosts' nova-compute services are stopped. Forces their
compute services down, deletes the servers on them (with their compute
forced down, Nova deletes them itself, at once; their guests are left to
whoever stops the host's libvirtd), waits until Nova has deleted them, then
deletes the compute services, with which Nova also deletes their resource
providers. The other tests of the Nova lab then see the fake hosts only,
as before the end-to-end test.

Standard library only; requests go through nova_lab_check.call (the
lab's token ``admin`` is an admin).
"""

import sys
import time
import urllib.error
import urllib.parse

import nova_lab_check  # beside this script

#: service ids are uuids from this microversion on
MICROVERSION = 'compute 2.53'


def _call(method, url, body=None):
    return nova_lab_check.call(method, url, {'OpenStack-API-Version':
                                             MICROVERSION}, body, timeout=30)


def _servers(nova_url, host):
    query = urllib.parse.urlencode({'host': host, 'all_tenants': 1})
    return _call('GET', '%s/servers?%s' % (nova_url, query))['servers']


def _services(nova_url, hosts):
    services = _call('GET', '%s/os-services?binary=nova-compute'
                     % nova_url)['services']
    return [service for service in services if service['host'] in hosts]


def remove(nova_url, hosts):
    for service in _services(nova_url, hosts):
        _call('PUT', '%s/os-services/%s' % (nova_url, service['id']),
              {'forced_down': True})
    for host in hosts:
        for server in _servers(nova_url, host):
            try:
                _call('DELETE', '%s/servers/%s' % (nova_url, server['id']))
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
    deadline = time.monotonic() + 60
    left = hosts
    while left and time.monotonic() < deadline:
        left = [h for h in hosts if _servers(nova_url, h)]
        if left:
            time.sleep(1)
    if left:
        print('servers still on %s after 60 s' % ', '.join(left))
        return 1
    for service in _services(nova_url, hosts):
        _call('DELETE', '%s/os-services/%s' % (nova_url, service['id']))
        print('deleted the compute service of %s' % service['host'])
    return 0


def main(argv):
    if len(argv) != 4 or argv[2] != 'remove':
        sys.exit(__doc__)
    try:
        return remove(argv[1], [h for h in argv[3].split(',') if h])
    except (OSError, ValueError) as e:
        print('cannot remove %s: %s' % (argv[3], e))
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
