# SPDX-License-Identifier: Apache-2.0
"""Waits for, and deletes, a multi-node fake compute (nova-nodes.sh).

Usage::

    python nova_lab_nodes.py NOVA_URL PLACEMENT_URL wait HOST NODES \
        TIMEOUT PIDFILE
    python nova_lab_nodes.py NOVA_URL PLACEMENT_URL delete HOST TIMEOUT

``wait``: until the compute service HOST is up and each of its NODES
nodes (:func:`nova_lab_multinode.node_names`) has a resource provider,
printing the progress every 30 s; then the service is disabled, so that
the scheduler places no test server there. Fails at once when the
process of PIDFILE exits. ``delete``: deletes the service (Nova deletes
its compute nodes and their resource providers), then waits until no
provider of the host is left.

Standard library only (with nova_lab_check's request helper).
"""

import os
import sys
import time

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
    if action == 'delete' and len(argv) == 6:
        return delete(nova_url, placement_url, host, float(argv[5]))
    sys.exit(__doc__)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
