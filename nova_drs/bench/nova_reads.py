# SPDX-License-Identifier: Apache-2.0
"""The balancer's reads of a real Nova with many compute nodes.

``python -m nova_drs.bench.nova_reads [--sizes 10,100,500,1000]``

Needs the Nova lab running (``tools/lab/nova-start.sh``, from a checkout:
the benchmark drives ``tools/lab/nova-nodes.sh``). For each size N, in
increasing order, one more nova-compute, ``drs-scale``, runs with N fake
nodes (an Ironic-style multi-node compute: the lab cannot run hundreds
of nova-compute processes on two cores, one process reports them all),
beside the lab's three computes: N + 3 compute nodes and resource
providers in a real Nova and Placement. Then, through the real HTTP
APIs, with every request counted on the wire (a response hook on the
connection's session, not the readers' own counts):

* **after**: the balancer's reader
  (:class:`nova_drs.balancer.view.nova_view.NovaCollector`): a full read,
  then ``--refreshes`` incremental reads (the periodic refresh);
* **before**: the reader the balancer had before reads were incremental
  (commit da139af, ``git log -S inventories -- nova_drs/balancer``):
  every refresh a full read through openstacksdk resources with one
  Placement request per compute node (``GET
  /resource_providers/{uuid}/inventories``). Replayed here request for
  request from that code, with one change: it read the inventories of
  the first node of each service host only, which on this lab (N nodes
  behind one service) would hide the per-node cost it has in a region
  of N single-node hosts; here it reads every compute node's, as it
  did for N hosts of one node each.

Figures per size: calls per read and read time (median of the
refreshes), and the nodes the read saw (hosts in the view plus the
further nodes of multi-node hosts it listed and set aside). Exit 1 when
an incremental refresh's calls are not the same at every size (calls per
refresh independent of the node count), when the full read's calls grow
other than by one per compute host (the inventories of the node it
uses) and Nova's pages of hypervisors (one per 1,000 nodes), or when
a read did not see every node. The drs-scale compute is deleted at the
end (``--keep`` leaves it running, for the next run).

Partial reads (balancer replicas that each read in Placement only the
hosts they own, :meth:`NovaCollector.set_partial`): ``--replicas K``
measures, after the sizes, the full reads of K replicas against the lab,
and ``--double HOSTS`` against the load test's region double of HOSTS
hosts instead (no lab needed; for sizes the lab cannot reach), or
``--double-url`` against one served in its own process. Exit 1
when a provider is read by two replicas, when the replicas together do
not read each host once, or when a replica's capacities differ from a
whole read's.
"""

import argparse
import collections
import datetime
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from nova_drs.balancer import clients
from nova_drs.balancer.view import api_reads
from nova_drs.balancer.view import inventory as nova_inventory
from nova_drs.balancer.view import nova_view
from nova_drs import config
from nova_drs.notifications import partition as partition_mod

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
NODES_SH = os.path.join(REPO, 'tools', 'lab', 'nova-nodes.sh')
HOST = 'drs-scale'
SIZES = (10, 100, 500, 1000)
#: nodes per page of ``/os-hypervisors/detail`` (Nova's [api] max_limit)
HYPERVISOR_PAGE = 1000

CLIENT_CONF = """\
[drs_nova]
auth_type = admin_token
endpoint = http://127.0.0.1:8774/v2.1
token = admin

[drs_placement]
endpoint_override = http://127.0.0.1:8778
"""


class HttpCounter:
    """Counts the HTTP requests a connection sends, by kind of call.

    Kinds as ``GET /servers/detail``, uuids as ``{id}``; the version
    discovery of the endpoints is left out.
    """

    def __init__(self, conn):
        self.seen = collections.Counter()
        conn.session.session.hooks['response'].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        url = urllib.parse.urlsplit(response.request.url)
        parts = [p for p in url.path.split('/') if p and p != 'v2.1']
        path = '/'.join('{id}' if len(p) >= 32 else p for p in parts)
        if path:
            self.seen['%s /%s' % (response.request.method, path)] += 1

    def take(self):
        seen, self.seen = dict(self.seen), collections.Counter()
        return seen


def connect(timeout=None, client_conf=CLIENT_CONF):
    """A connection to the lab, configured as the balancer's own.

    :param timeout: ``[drs_nova] timeout`` (None: its default)
    :param client_conf: the ``[drs_nova]`` and ``[drs_placement]``
        settings (default: the lab's)
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(client_conf)
            if timeout is not None:
                f.write('\n[drs_nova]\ntimeout = %s\n' % timeout)
        conf = config.load([path])
    return conf, clients.connect(conf)


def before_read(conn, cooldown_s=600):
    """One refresh of the reader before incremental reads (da139af).

    Its requests, in its order, through the sdk's resources as it made
    them; the inventories of every compute node (see the module doc).

    :returns: compute nodes whose inventories were read
    """
    services = {s.host: s for s in
                conn.compute.services(binary='nova-compute')}
    list(conn.compute.aggregates())
    providers = list(conn.placement.resource_providers())
    by_id = {rp.id: rp for rp in providers}
    by_name = {rp.name: rp for rp in providers}
    seen = 0
    for hv in conn.compute.hypervisors(details=True):
        host = (hv.service_details or {}).get('host')
        rp = by_id.get(hv.id) or by_name.get(hv.name)
        if host not in services or rp is None:
            continue
        {inv.resource_class: inv for inv in
         conn.placement.resource_provider_inventories(rp.id)}
        seen += 1
    list(conn.compute.server_groups(all_projects=True))
    since = datetime.datetime.fromtimestamp(
        time.time() - cooldown_s, datetime.timezone.utc)
    list(conn.compute.migrations(
        changes_since=since.strftime('%Y-%m-%dT%H:%M:%SZ')))
    flavors = set()
    for server in conn.compute.servers(details=True, all_projects=True):
        flavor = server.flavor or {}
        if not flavor.get('vcpus') and flavor.get('id') not in flavors:
            flavors.add(flavor.get('id'))
            conn.compute.get_flavor(flavor.get('id'))
    return seen


def nodes_seen(view):
    """Compute nodes a view accounts for.

    Its hosts, and the further nodes of multi-node hosts it listed and
    set aside.
    """
    return len(view.model.hosts) + sum(
        1 for kind, _, why in view.skipped
        if kind == 'host' and why.startswith('second node of host'))


def timed(http, read):
    http.take()
    started = time.monotonic()
    result = read()
    elapsed = time.monotonic() - started
    return result, sum(http.take().values()), elapsed


#: one size's figures, printed as soon as measured
ROW = ('%(nodes)d nodes: after: full read %(full_calls)d calls '
       '%(full_s).2f s, refresh %(inc_calls)d calls %(inc_s).2f s; '
       'before: %(before_calls)d calls %(before_s).2f s %(before_error)s')


def measure(size, refreshes, timeout=None, concurrency=None):
    """One size's figures (a dict)."""
    conf, conn = connect(timeout, with_concurrency(CLIENT_CONF, concurrency))
    # the endpoints' version discovery, and the sdk's microversion
    # negotiation, once per connection: not part of a read
    api_reads.list_services(conn.compute)
    list(conn.compute.aggregates())
    api_reads.list_providers(conn.placement)
    # what there is to see: every compute node, each a resource provider
    # (the lab's fake computes report no other provider); not Nova's
    # hypervisors listing, which on this machine takes 50-100 ms per node
    present = len(api_reads.list_providers(conn.placement))
    http = HttpCounter(conn)
    collector = nova_view.NovaCollector(conn, conf)
    view, full_calls, full_s = timed(http, collector.read)
    row = {'size': size, 'nodes': present, 'full_calls': full_calls,
           # a full read reads the inventories of each host's node
           'hosts': len(view.model.hosts),
           'full_s': full_s, 'full_seen': nodes_seen(view),
           'full_counted': collector.last_read.total}
    inc_calls, inc_s, inc_seen, inc_counted = [], [], [], []
    for _ in range(refreshes):
        view, calls, elapsed = timed(http, collector.read)
        inc_counted.append(collector.last_read.total)
        inc_calls.append(calls)
        inc_s.append(elapsed)
        inc_seen.append(nodes_seen(view))
        if collector.last_read.kind != 'incremental':
            raise RuntimeError('a refresh was not incremental')
    before_calls, before_s, before_seen = [], [], []
    row['before_error'] = None
    for _ in range(refreshes):
        try:
            seen, calls, elapsed = timed(http, lambda: before_read(conn))
        except nova_inventory.READ_ERRORS as e:
            # the reader of before failing at this size is a figure too
            row['before_error'] = '%s: %s' % (type(e).__name__, e)
            http.take()
            break
        before_calls.append(calls)
        before_s.append(elapsed)
        before_seen.append(seen)
    if not before_calls:
        before_calls, before_s, before_seen = [-1], [math.nan], [-1]
    row.update(
        # the fewest: a refresh may read a provider that a compute's
        # periodic update changed meanwhile
        inc_calls=min(inc_calls), inc_calls_max=max(inc_calls),
        inc_s=statistics.median(inc_s), inc_seen=min(inc_seen),
        # the reader's own count (its report), against the wire's
        inc_counted=min(inc_counted),
        before_calls=min(before_calls), before_s=statistics.median(before_s),
        before_seen=min(before_seen))
    return row


def with_concurrency(client_conf, concurrency):
    """``client_conf`` with ``[drs_balancer] placement_read_concurrency``.

    None: the option's default.
    """
    if concurrency is None:
        return client_conf
    return client_conf + ('\n[drs_balancer]\nplacement_read_concurrency = '
                          '%d\n' % concurrency)


def partial_reads_of_double(hosts, replicas, concurrency=None):
    """:func:`partial_reads` against the load test's region double.

    A generated region of ``hosts`` single-node hosts behind Nova's and
    Placement's HTTP APIs (:mod:`nova_drs.loadtest.nova_api`), for the
    figure at a size the Nova lab cannot reach; its answers are checked
    against the real Nova by the functional tests.
    """
    from nova_drs.loadtest import nova_api
    from nova_drs.loadtest import region as region_mod

    region = region_mod.Region.generate(hosts, instances_per_host=1)
    served, base_url = nova_api.serve(region)
    try:
        return partial_reads(
            replicas, client_conf=with_concurrency(
                nova_api.client_config(base_url, 'bench'), concurrency))
    finally:
        served.shutdown()


def partial_reads(replicas, timeout=None, client_conf=CLIENT_CONF):
    """Full reads of ``replicas`` replicas, each reading its own hosts.

    As balancer replicas with partitioned intake read (``NovaCollector.
    set_partial``): replica n owns the hosts of intake partition n of
    ``replicas`` (:func:`nova_drs.notifications.partition.partition_of`)
    and reads their inventories in Placement; the other hosts'
    capacities come from what their owners read, handed over here in
    memory (in the balancer through ``host_states``). Each replica makes
    a full read first with nothing shared (the first start of a region:
    it reads every host), then, once every replica has read, the full
    read of a steady region, which is the one measured.

    :returns: a dict: ``inventories`` (the providers read per replica,
        on the wire), ``calls`` (each replica's calls, on the wire),
        ``shared`` (hosts taken from shared capacities, per replica),
        ``hosts``, and ``seen_equal`` (every replica's model has the
        capacities of a whole read)
    """
    conf, conn = connect(timeout, client_conf)
    api_reads.list_services(conn.compute)
    list(conn.compute.aggregates())
    api_reads.list_providers(conn.placement)
    wire = InventoriesRead(conn)
    http = HttpCounter(conn)
    started = time.monotonic()
    whole = nova_view.NovaCollector(conn, conf).read(full=True)
    whole_s = time.monotonic() - started
    whole_calls = sum(http.take().values())
    whole_hosts = whole.to_snapshot()['hosts']
    shared = {}

    def owner(host):
        return partition_mod.partition_of(host, replicas)

    collectors = []
    for n in range(replicas):
        collector = nova_view.NovaCollector(conn, conf)
        collector.set_partial(
            lambda hosts, n=n: {h for h in hosts if owner(h) == n},
            lambda: dict(shared))
        collectors.append(collector)
    for n, collector in enumerate(collectors):
        collector.read(full=True)
        shared.update({h: c for h, c in collector.own_capacities().items()
                       if owner(h) == n})
    wire.take()
    out = {'hosts': len(whole.model.hosts), 'inventories': [],
           'calls': [], 'shared': [], 'seen_equal': True, 'seconds': [],
           'whole_calls': whole_calls, 'whole_s': round(whole_s, 2)}
    for collector in collectors:
        http.take()
        started = time.monotonic()
        view = collector.read(full=True)
        out['seconds'].append(round(time.monotonic() - started, 2))
        out['calls'].append(sum(http.take().values()))
        out['inventories'].append(wire.take())
        out['shared'].append(collector.last_read.inventories_shared)
        out['seen_equal'] &= view.to_snapshot()['hosts'] == whole_hosts
    return out


class InventoriesRead:
    """The providers whose inventories a connection reads, on the wire."""

    def __init__(self, conn):
        self.read = []
        conn.session.session.hooks['response'].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        path = urllib.parse.urlsplit(response.request.url).path
        # the endpoint may have a path of its own (the region double's)
        parts = path.strip('/').split('/')
        if len(parts) >= 3 and parts[-3] == 'resource_providers' and \
                parts[-1] == 'inventories':
            self.read.append(parts[-2])

    def take(self):
        read, self.read = self.read, []
        return read


def check_partial(partial):
    """The targets the partial reads missed, as sentences."""
    misses = []
    read = [rp for replica in partial['inventories'] for rp in replica]
    if len(read) != len(set(read)):
        misses.append('partial reads: a provider read by two replicas')
    if len(read) != partial['hosts']:
        misses.append('partial reads: %d inventories read by the replicas '
                      'together for %d hosts (one full read)'
                      % (len(read), partial['hosts']))
    if not partial['seen_equal']:
        misses.append('partial reads: a replica\'s capacities differ from '
                      'a whole read\'s')
    return misses


def print_partial(partial, replicas):
    print('full read of %d replicas, each reading its own hosts\' '
          'inventories (%d hosts): calls %s, inventories %s, shared %s, '
          'seconds %s; before (each replica reading every host): %d '
          'calls, %.2f s, %d inventories per replica, %d together'
          % (replicas, partial['hosts'], partial['calls'],
             [len(r) for r in partial['inventories']], partial['shared'],
             partial['seconds'], partial.get('whole_calls', -1),
             partial.get('whole_s', math.nan), partial['hosts'],
             partial['hosts'] * replicas))


def report_partial(partial, replicas):
    """Print the partial reads' figures and misses; the exit status."""
    print_partial(partial, replicas)
    return _verdict(check_partial(partial),
                    'the replicas read each host\'s inventories once '
                    'together')


def _verdict(misses, ok):
    """Print each miss, or ``ok`` when none; the exit status."""
    for miss in misses:
        print('MISSED: ' + miss)
    if not misses:
        print('OK: ' + ok)
    return 1 if misses else 0


def nodes(action, *args):
    # a fixed command line: the lab's own script, its host, numbers
    subprocess.run(  # nosec B603
        [NODES_SH, action, HOST] + [str(a) for a in args], check=True)


def check(rows):
    """The targets missed, as sentences."""
    misses = []
    inc = {r['inc_calls'] for r in rows}
    if len(inc) > 1:
        misses.append('calls per incremental refresh vary with the node '
                      'count: %s' % ', '.join(
                          '%d at %d nodes' % (r['inc_calls'], r['nodes'])
                          for r in rows))
    full = {r['full_calls'] - r['hosts']
            - -(-r['nodes'] // HYPERVISOR_PAGE) for r in rows}
    if len(full) > 1:
        misses.append('calls per full read grow with the node count '
                      'beyond one per host and one per page of '
                      'hypervisors: %s' % ', '.join(
                          '%d at %d nodes' % (r['full_calls'], r['nodes'])
                          for r in rows))
    for r in rows:
        keys = ('full_seen', 'inc_seen') if r['before_error'] else (
            'full_seen', 'inc_seen', 'before_seen')
        for key in keys:
            if r[key] != r['nodes']:
                misses.append('%s: %d of %d nodes' % (key, r[key],
                                                      r['nodes']))
    return misses


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default=','.join(map(str, SIZES)),
                        help='fake nodes of the extra compute, in '
                        'increasing order (default %(default)s)')
    parser.add_argument('--refreshes', type=int, default=3,
                        help='incremental reads, and before-reads, per '
                        'size (default %(default)s)')
    parser.add_argument('--timeout', type=float,
                        help='[drs_nova] timeout of the readers\' '
                        'requests (default: its default, 120 s)')
    parser.add_argument('--read-concurrency', type=int, metavar='N',
                        help='[drs_balancer] placement_read_concurrency '
                        'of the readers (default: its default)')
    parser.add_argument('--keep', action='store_true',
                        help='leave the drs-scale compute running')
    parser.add_argument('--double', type=int, metavar='HOSTS',
                        help='measure the partial reads of --replicas '
                        'replicas (default 2) against the load test\'s '
                        'region double of HOSTS hosts, not the Nova lab '
                        '(no drs-scale, no --sizes)')
    parser.add_argument('--double-url', metavar='URL',
                        help='as --double, against a region double '
                        'already served in its own process, as the load '
                        'test serves it (``python -m '
                        'nova_drs.loadtest.nova_api --hosts N`` prints '
                        'its base_url)')
    parser.add_argument('--replicas', type=int, default=0,
                        help='at the largest size, also the full reads of '
                        'this many replicas each reading in Placement the '
                        'inventories of the hosts it owns (partial '
                        'reads); 0: not measured (default)')
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(','))
    if args.replicas < 0:
        parser.error('--replicas must be 0 or more')
    if args.double_url:
        from nova_drs.loadtest import nova_api
        return report_partial(partial_reads(
            args.replicas or 2, client_conf=with_concurrency(
                nova_api.client_config(args.double_url, 'bench'),
                args.read_concurrency)), args.replicas or 2)
    if args.double is not None:
        if args.double < 1:
            parser.error('--double needs 1 host or more')
        return report_partial(partial_reads_of_double(
            args.double, args.replicas or 2, args.read_concurrency),
            args.replicas or 2)
    rows = []
    partial = None
    try:
        for size in sizes:
            started = time.monotonic()
            nodes('start', size)
            print('drs-scale with %d nodes ready in %.0f s'
                  % (size, time.monotonic() - started))
            rows.append(measure(size, args.refreshes, args.timeout,
                                args.read_concurrency))
            print(ROW % rows[-1])
            sys.stdout.flush()
        if args.replicas:
            partial = partial_reads(
                args.replicas, args.timeout,
                with_concurrency(CLIENT_CONF, args.read_concurrency))
    finally:
        if not args.keep:
            nodes('delete')
    print()
    print('Nova lab: its computes of one node each + drs-scale with the '
          'rest; calls counted on the wire, times median of %d'
          % args.refreshes)
    print('%7s | %17s | %17s | %17s' % (
        '', 'before: per-node', 'after: full read', 'after: refresh'))
    print('%7s | %6s %10s | %6s %10s | %6s %10s' % (
        'nodes', 'calls', 'time s', 'calls', 'time s', 'calls', 'time s'))
    for r in rows:
        print('%7d | %6d %10.2f | %6d %10.2f | %6d %10.2f' % (
            r['nodes'], r['before_calls'], r['before_s'], r['full_calls'],
            r['full_s'], r['inc_calls'], r['inc_s']))
        if r['before_error']:
            print('%7s   before failed: %s' % ('', r['before_error']))
    misses = check(rows)
    if partial is not None:
        print()
        misses += check_partial(partial)
        print_partial(partial, args.replicas)
    return _verdict(misses, 'calls per refresh independent of the node '
                    'count, every node seen')


if __name__ == '__main__':
    sys.exit(main())
