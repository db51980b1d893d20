# SPDX-License-Identifier: Apache-2.0
"""Waits for, and deletes, a multi-node fake compute (nova-nodes.sh).

Usage::

    python nova_lab_nodes.py NOVA_URL PLACEMENT_URL wait HOST NODES \
        TIMEOUT PIDFILE
    python nova_lab_nodes.py NOVA_URL PLACEMENT_URL delete HOST TIMEOUT

    python nova_lab_nodes.py NOVA_URL PLACEMENT_URL listed HOST NODES \
        TIMEOUT

``wait``: until the compute service HOST is up and each of its NODES
nodes (:func:`nova_lab_multinode.node_names`) has a resource provider,
printing the progress every 30 s; then the service is disabled, so that
the scheduler places no test server there. Fails at once when the
process of PIDFILE exits. ``listed``: until Nova's hypervisors API lists
every node of HOST, which it does only once the host is mapped to its
cell (:func:`_listed`). ``delete``: deletes the service (Nova deletes
its compute nodes and their resource providers), then waits until no
provider of the host is left.

Standard library only (with nova_lab_check's request helper).
"""

import os
import sys
import time
import urllib.error

import nova_lab_check
import nova_lab_multinode

SERVICES = 'compute 2.53'


def _service(nova_url, host):
    services = nova_lab_check.call(
        'GET', nova_url + '/os-services?binary=nova-compute&host=' + host,
        {'OpenStack-API-Version': SERVICES})['services']
    return services[0] if services else None


def _providers(placement_url, host):
    """Names of the providers of ``host``'s nodes."""
    listed = nova_lab_check.call('GET', placement_url + '/resource_providers',
                                 timeout=120)['resource_providers']
    prefix = host + '-node-'
    return {p['name'] for p in listed
            if p['name'] == host or p['name'].startswith(prefix)}


def _listed(nova_url, host):
    """Names of the nodes of ``host`` that Nova's hypervisors API lists.

    Nova lists a compute node only when its host has a host mapping
    (``nova-manage cell_v2 discover_hosts``, or nova-scheduler's periodic
    discovery): it silently leaves out the nodes of a host it cannot map
    to a cell, although they are in the cell's database and Placement
    has their providers. The readers under test list hypervisors.
    """
    try:
        listed = nova_lab_check.call(
            'GET', nova_url + '/os-hypervisors?hypervisor_hostname_pattern='
            + host, {'OpenStack-API-Version': SERVICES},
            timeout=120)['hypervisors']
    except urllib.error.HTTPError as e:
        if e.code == 404:
            # no compute node of that name in any cell yet
            return set()
        raise
    prefix = host + '-node-'
    return {h['hypervisor_hostname'] for h in listed
            if h['hypervisor_hostname'] == host
            or h['hypervisor_hostname'].startswith(prefix)}


def listed(nova_url, host, nodes, timeout):
    wanted = set(nova_lab_multinode.node_names(host, nodes))
    started = time.monotonic()
    while True:
        try:
            have = _listed(nova_url, host) & wanted
        except (OSError, ValueError) as e:
            have = set()
            print('Nova does not answer: %s' % e)
        if have == wanted:
            print('%s: %d nodes listed by Nova in %.0f s'
                  % (host, nodes, time.monotonic() - started))
            return 0
        if time.monotonic() - started > timeout:
            print('%s: %d of %d nodes listed by Nova after %.0f s (host '
                  'not mapped to its cell?)'
                  % (host, len(have), nodes, timeout))
            return 1
        time.sleep(1)


def _alive(pidfile):
    try:
        with open(pidfile, encoding='ascii') as f:
            os.kill(int(f.read().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def wait(nova_url, placement_url, host, nodes, timeout, pidfile):
    wanted = set(nova_lab_multinode.node_names(host, nodes))
    started = time.monotonic()
    shown = started
    while True:
        if not _alive(pidfile):
            print('nova-compute %s exited' % host)
            return 1
        try:
            service = _service(nova_url, host)
            have = _providers(placement_url, host) & wanted
        except (OSError, ValueError) as e:
            service, have = None, set()
            print('Nova or Placement does not answer: %s' % e)
        if service is not None and service['state'] == 'up' and \
                have == wanted:
            break
        now = time.monotonic()
        if now - started > timeout:
            print('%s: %d of %d resource providers after %.0f s'
                  % (host, len(have), nodes, now - started))
            return 1
        if now - shown >= 30:
            shown = now
            print('%s: %d of %d resource providers (%.0f s)'
                  % (host, len(have), nodes, now - started))
        time.sleep(2)
    if service['status'] != 'disabled':
        nova_lab_check.call(
            'PUT', '%s/os-services/%s' % (nova_url, service['id']),
            {'OpenStack-API-Version': SERVICES}, {'status': 'disabled'})
    print('%s: %d resource providers in %.0f s'
          % (host, nodes, time.monotonic() - started))
    return 0


def delete(nova_url, placement_url, host, timeout):
    service = _service(nova_url, host)
    if service is not None:
        nova_lab_check.call(
            'DELETE', '%s/os-services/%s' % (nova_url, service['id']),
            {'OpenStack-API-Version': SERVICES}, timeout=timeout)
    started = time.monotonic()
    while _providers(placement_url, host):
        if time.monotonic() - started > timeout:
            print('%s: resource providers left after %.0f s' % (host,
                                                                 timeout))
            return 1
        time.sleep(1)
    return 0


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    nova_url, placement_url, action, host = argv[1:5]
    if action == 'wait' and len(argv) == 8:
        return wait(nova_url, placement_url, host, int(argv[5]),
                    float(argv[6]), argv[7])
    if action == 'listed' and len(argv) == 7:
        return listed(nova_url, host, int(argv[5]), float(argv[6]))
    if action == 'delete' and len(argv) == 6:
        return delete(nova_url, placement_url, host, float(argv[5]))
    sys.exit(__doc__)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
