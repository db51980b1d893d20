# SPDX-License-Identifier: Apache-2.0
"""Is the Nova lab ready? Exit 0 when it is, 1 when not (with the reason).

Usage::

    python nova_lab_check.py NOVA_URL PLACEMENT_URL COMPUTES [WAIT_SECONDS]

Ready means: nova-api and placement-api answer, the compute services
``fake-host-1`` .. ``fake-host-COMPUTES`` (or, when COMPUTES is a comma
separated list of names, those) are up, and each has a resource provider
in Placement (before that Nova cannot schedule to it). With WAIT_SECONDS,
checks once a second until ready or the time is up.

Standard library only, so any Python runs it. The lab's token ``admin`` is
read as an admin by both the lab's Nova filter and Placement's noauth2.
"""

import json
import sys
import time
import urllib.error
import urllib.request

TOKEN = 'admin'


def call(method, url, headers=None, body=None, timeout=10):
    """One JSON request to the lab's Nova or Placement with its token."""
    data = None if body is None else json.dumps(body).encode('utf-8')
    headers = dict(headers or {}, **{
        'X-Auth-Token': TOKEN, 'Accept': 'application/json',
        'Content-Type': 'application/json'})
    request = urllib.request.Request(url, method=method, data=data,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = response.read()
    return json.loads(reply) if reply else None


def state(nova_url, placement_url, computes):
    """Return None when ready, else what is missing.

    :param computes: a number of fake hosts, or a set of host names
    """
    if isinstance(computes, int):
        wanted = {'fake-host-%d' % n for n in range(1, computes + 1)}
    else:
        wanted = set(computes)
    try:
        services = call('GET', nova_url + '/os-services?binary=nova-compute',
                        {'OpenStack-API-Version': 'compute 2.53'})
    except (OSError, ValueError) as e:
        return 'nova-api does not answer (%s)' % e
    up = {s['host'] for s in services['services'] if s['state'] == 'up'}
    if not wanted <= up:
        return 'compute services not up yet: %s' % ', '.join(
            sorted(wanted - up))
    try:
        providers = call('GET', placement_url + '/resource_providers',
                         {'OpenStack-API-Version': 'placement 1.14'})
    except (OSError, ValueError) as e:
        return 'placement-api does not answer (%s)' % e
    names = {p['name'] for p in providers['resource_providers']}
    if not wanted <= names:
        return 'no resource provider yet for: %s' % ', '.join(
            sorted(wanted - names))
    return None


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    nova_url, placement_url = argv[1], argv[2]
    computes = (int(argv[3]) if argv[3].isdigit()
                else {name for name in argv[3].split(',') if name})
    deadline = time.monotonic() + (float(argv[4]) if len(argv) == 5 else 0)
    while True:
        missing = state(nova_url, placement_url, computes)
        if missing is None:
            print('nova lab ready: %s up with resource providers'
                  % ('%d computes' % computes if isinstance(computes, int)
                     else ', '.join(sorted(computes))))
            return 0
        if time.monotonic() >= deadline:
            print('nova lab not ready: %s' % missing)
            return 1
        time.sleep(1)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
