# SPDX-License-Identifier: Apache-2.0
"""API objects as the contract shapes them, and a client that serves them.

``FakeClient`` stands in for ``nova_drs.client.Client`` at the client
boundary: same method names and arguments, answers from a dict, and a
record of every call.
"""

import copy
import io
import types

from nova_drs import client as drs_client

PLAN_UUID = '3f1c9a2e-6b7d-4c1e-9a55-1b2c3d4e5f60'
ACTION_UUID = '7d0e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6'
INSTANCE_UUID = 'c0ffee00-1111-4222-8333-444455556666'
REQUEST_UUID = '9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d'

HOST = {
    'name': 'compute-1',
    'reported_by': 'balancer-a',
    'updated_at': '2026-03-01T10:00:05Z',
    'sampled_at': '2026-03-01T10:00:00Z',
    'stale': False,
    'hot': ['cpu'],
    'load': {'cpu': 0.923, 'memory': 0.5, 'disk': 0.05, 'network': 0.0},
    'smoothed': {'cpu': 0.871, 'memory': 0.49, 'disk': 0.05,
                 'network': 0.0},
    'cpu_count': 32,
    'memory_total_mb': 131072,
    'guest_count': 12,
    'balloon': {'reclaimed_mb': 2048, 'guests': 3},
    'reserved_migrations': 1,
}

COLD_HOST = dict(HOST, name='compute-2', hot=[], stale=True,
                 load={'cpu': 0.1, 'memory': 0.2}, balloon=None,
                 reserved_migrations=0)

ACTION = {
    'uuid': ACTION_UUID, 'plan_uuid': PLAN_UUID,
    'instance_uuid': INSTANCE_UUID, 'source': 'compute-1',
    'target': 'compute-2', 'reason': 'cpu', 'state': 'completed',
    'owner': 'balancer-a', 'transfer_mb': 4096, 'estimated_s': 12.5,
    'created_at': '2026-03-01T10:01:00Z',
    'started_at': '2026-03-01T10:01:01Z',
    'finished_at': '2026-03-01T10:01:14Z', 'duration_s': 13.0,
    'migration_id': 42, 'migration_uuid': 'aaaa0000-1111-4222-8333-4444',
    'nova_status': 'completed', 'error': None,
}

PLAN = {
    'uuid': PLAN_UUID, 'strategy': 'hotspot', 'origin': 'operator',
    'state': 'recommended', 'state_reason': None,
    'created_at': '2026-03-01T10:00:30Z',
    'updated_at': '2026-03-01T10:00:30Z', 'finished_at': None,
    'decision_s': 0.012, 'unresolved': ['compute-7'],
    'created_by': 'alice',
    'actions': [dict(ACTION, state='pending', target=None)],
}

PLAN_REQUEST = {
    'uuid': REQUEST_UUID, 'kind': 'plan', 'strategy': 'hotspot',
    'host': None, 'apply': False, 'state': 'pending', 'plan_uuid': None,
    'error': None, 'created_at': '2026-03-01T10:00:29Z',
    'updated_at': '2026-03-01T10:00:29Z', 'created_by': 'alice',
}

INSTANCE = {
    'uuid': INSTANCE_UUID, 'host': 'compute-1', 'opt_out': False,
    'balloon_floor_mb': 1024,
    'balloon': {'actual_mb': 3072, 'target_mb': 3072},
}

STATUS = {
    'mode': 'partial', 'strategy': 'hotspot',
    'replicas': [{'id': 'balancer-a', 'hosts': ['compute-1', 'compute-2']},
                 {'id': 'balancer-b', 'hosts': []}],
    'hosts': 2, 'hot_hosts': 1, 'stale_hosts': 1, 'migrations_running': 0,
    'plans_recommended': 1,
}

LAST_CYCLE = {
    'origin': 'hotspot', 'mode': 'full',
    'started_at': '2026-03-01T10:00:00Z',
    'finished_at': '2026-03-01T10:00:00.5Z', 'duration_s': 0.5,
    'migrations': 2, 'applied': [PLAN_UUID], 'recommended': [],
    'unresolved': 1, 'skipped': None, 'failed': False,
}

REPORT = {
    'member': True, 'stale': False, 'host': 'ctl-1', 'pid': 4242,
    'version': '1.2.0', 'mode': 'full', 'mode_source': 'operator',
    'strategy': 'hotspot', 'paused': False,
    'started_at': '2026-03-01T09:00:00Z',
    'updated_at': '2026-03-01T10:00:01Z', 'cycles': 61, 'cycle_errors': 0,
    'last_cycle': LAST_CYCLE,
}

#: the status as API 1.2 shows it: each replica's own report
STATUS_1_2 = dict(
    STATUS, mode='full', mode_source='operator', paused=True,
    paused_hosts=['compute-2'],
    replicas=[
        dict(REPORT, id='balancer-a', hosts=['compute-1', 'compute-2'],
             work={'accepted': {'drs.host.metrics': 590,
                                'drs.host.hotspot': 2},
                   'dropped': 3, 'hosts_owned': 2, 'partitions': 8,
                   'partitions_owned': 4, 'nova_reads': 9,
                   'nova_full_reads': 1, 'nova_calls': 70,
                   'migrations_following': 2, 'cpu_s': 12.5,
                   'rss_mb': 96.2}),
        dict(REPORT, id='balancer-b', hosts=[], paused=True,
             last_cycle=dict(LAST_CYCLE, applied=[], migrations=0,
                             unresolved=0,
                             skipped='automatic balancing is paused')),
        dict({k: None for k in REPORT}, id='balancer-c', hosts=[],
             member=True, stale=True),
        dict(REPORT, id='balancer-d', hosts=[], member=False, stale=True,
             last_cycle=None)])

BALANCER = {
    'mode': 'full', 'mode_source': 'operator', 'paused': False,
    'reason': 'change window', 'updated_by': 'alice',
    'updated_at': '2026-03-01T09:30:00Z',
    'paused_hosts': [{'host': 'compute-2', 'reason': 'BIOS update',
                      'paused_by': 'bob',
                      'paused_at': '2026-03-01T09:40:00Z'}],
}


#: an audit event as API 1.3 shows it
EVENT = {
    'id': 7, 'created_at': '2026-03-01T10:01:00Z', 'actor': 'balancer-a',
    'kind': 'action.running', 'object_uuid': ACTION_UUID,
    'message': 'live migration to compute-2 started',
    'detail': {'target': 'compute-2'},
}


class FakeClient(object):
    """Answers like the API; ``calls`` records (method, args, kwargs)."""

    def __init__(self):
        self.calls = []
        self.hosts = [copy.deepcopy(HOST), copy.deepcopy(COLD_HOST)]
        self.plan = copy.deepcopy(PLAN)
        self.request = copy.deepcopy(PLAN_REQUEST)
        # What successive get_plan_request calls return (then the last).
        self.request_states = []
        self.instance = copy.deepcopy(INSTANCE)
        self.status = copy.deepcopy(STATUS)
        self.balancer = copy.deepcopy(BALANCER)
        self.errors = {}

    def _call(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if name in self.errors:
            raise self.errors[name]

    def list_hosts(self, **kw):
        self._call('list_hosts', **kw)
        return self.hosts

    def get_host(self, host):
        self._call('get_host', host)
        return self.hosts[0]

    def evacuate_host(self, host, apply=True):
        self._call('evacuate_host', host, apply=apply)
        return dict(self.request, kind='evacuation', host=host, apply=apply)

    def create_plan(self, strategy=None):
        self._call('create_plan', strategy=strategy)
        return self.request

    def list_plans(self, **kw):
        self._call('list_plans', **kw)
        plan = dict(self.plan)
        del plan['actions']
        return [plan]

    def get_plan(self, uuid):
        self._call('get_plan', uuid)
        return self.plan

    def apply_plan(self, uuid):
        self._call('apply_plan', uuid)
        return dict(self.plan, state='applying')

    def cancel_plan(self, uuid):
        self._call('cancel_plan', uuid)
        return dict(self.plan, state='cancelled', state_reason='by alice')

    def get_plan_request(self, uuid):
        self._call('get_plan_request', uuid)
        return self.request

    def wait_for_plan_request(self, uuid, timeout=60.0, interval=1.0):
        self._call('wait_for_plan_request', uuid, timeout=timeout,
                   interval=interval)
        if not self.request_states:
            raise drs_client.WaitTimeout('still pending')
        return self.request_states[-1]

    def list_migrations(self, **kw):
        self._call('list_migrations', **kw)
        return [ACTION]

    def list_events(self, **kw):
        self._call('list_events', **kw)
        return [EVENT]

    def get_migration(self, uuid):
        self._call('get_migration', uuid)
        return ACTION

    def get_instance(self, uuid):
        self._call('get_instance', uuid)
        return self.instance

    def update_instance(self, uuid, **changes):
        self._call('update_instance', uuid, **changes)
        return dict(self.instance, **changes)

    def get_status(self):
        self._call('get_status')
        return self.status

    def get_balancer(self):
        self._call('get_balancer')
        return self.balancer

    def update_balancer(self, mode=drs_client.UNSET, paused=None,
                        reason=None):
        kwargs = {'paused': paused, 'reason': reason}
        if mode is not drs_client.UNSET:
            kwargs['mode'] = mode
        self._call('update_balancer', **kwargs)
        changed = dict(self.balancer, reason=reason)
        if mode is not drs_client.UNSET:
            changed.update(mode=mode or 'partial',
                           mode_source='operator' if mode else 'config')
        if paused is not None:
            changed['paused'] = paused
        return changed

    def set_host_paused(self, host, paused, reason=None):
        self._call('set_host_paused', host, paused, reason=reason)
        return dict(self.hosts[0], name=host, paused=paused,
                    pause_reason=reason if paused else None,
                    paused_by='alice' if paused else None,
                    paused_at='2026-03-01T10:00:00Z' if paused else None)


class FakeCompute(object):
    """``client_manager.compute``: finds servers by name."""

    def __init__(self, servers):
        self.servers = servers

    def find_server(self, name, ignore_missing=True):
        matches = [s for s in self.servers if s['name'] == name]
        if len(matches) != 1:
            raise LookupError('%d servers named %s' % (len(matches), name))
        return types.SimpleNamespace(id=matches[0]['id'])


class FakeApp(object):
    """What a command needs of the OSC application."""

    def __init__(self, client, compute=None):
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.client_manager = types.SimpleNamespace(drs=client,
                                                    compute=compute)
        self.options = types.SimpleNamespace(debug=False)
