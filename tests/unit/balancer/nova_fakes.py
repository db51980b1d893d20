# SPDX-License-Identifier: Apache-2.0
"""openstacksdk faked at the Connection boundary, for unit tests.

:class:`FakeConnection` has ``compute`` and ``placement`` proxies with the
methods the collector and the actuator call, answering from plain Python
state. Live migrations follow a timeline on a :class:`FakeClock`, and obey
abort and force-complete as Nova does.
"""

import datetime
import itertools
import json
import threading
import types
import uuid

from openstack import exceptions as sdk_exc

IN_PROGRESS = ('accepted', 'queued', 'preparing', 'running',
               'post-migrating')

#: a migration like the lab's fake driver: running for 5 s, then done
DEFAULT_STEPS = ((0.0, 'queued'), (0.2, 'preparing'), (0.5, 'running'),
                 (5.5, 'completed'))


def http_error(status, details):
    exc = {400: sdk_exc.BadRequestException,
           404: sdk_exc.NotFoundException,
           409: sdk_exc.ConflictException}.get(status, sdk_exc.HttpException)
    error = exc(message='HTTP %d' % status, details=details)
    error.status_code = status
    return error


class FakeClock(object):
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self, now=1000.0):
        self.now = now
        self.sleeps = 0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds


def res(**attrs):
    """A stand-in for an openstacksdk resource."""
    return types.SimpleNamespace(**attrs)


def hypervisor(name, host=None, rp=None):
    return res(id=rp or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
               name=name, service_details={'host': host or name,
                                           'id': 'svc-' + name})


def service(host, status='enabled', state='up', forced_down=False,
            zone='nova', reason=None):
    return res(host=host, status=status, state=state,
               is_forced_down=forced_down, availability_zone=zone,
               disabled_reason=reason)


def inventory(resource_class, total, reserved=0, ratio=1.0):
    return res(resource_class=resource_class, total=total,
               reserved=reserved, allocation_ratio=ratio)


def server(sid, host, vcpus=1, ram=512, status='ACTIVE', task_state=None,
           metadata=None, flavor=None, name=None, updated_at=None):
    if flavor is None:
        flavor = {'vcpus': vcpus, 'ram': ram, 'original_name': 'm1'}
    return res(id=sid, name=name or 'vm-' + sid, compute_host=host,
               status=status, task_state=task_state,
               metadata=metadata or {}, flavor=flavor, project_id='p1',
               updated_at=updated_at)


class FakeResponse(object):
    """A keystoneauth response: a status and a JSON body."""

    def __init__(self, body, status_code=200):
        self.body = body
        self.status_code = status_code
        self.headers = {'Content-Type': 'application/json'}
        self.text = json.dumps(body)
        self.content = self.text.encode('utf-8')
        self.reason = 'OK' if status_code < 400 else 'Error'
        self.url = 'http://nova.example/v2.1/servers/detail'
        self.request = None

    def json(self):
        return self.body


def _server_json(srv):
    """A fake server as Nova's API shows it (microversion 2.47)."""
    return {'id': srv.id, 'name': srv.name, 'status': srv.status,
            'OS-EXT-SRV-ATTR:host': srv.compute_host,
            'OS-EXT-STS:task_state': srv.task_state,
            'tenant_id': srv.project_id, 'flavor': srv.flavor,
            'metadata': srv.metadata, 'updated': srv.updated_at}


def _epoch(stamp):
    # the ISO timestamps of the fakes and of changes-since, as Nova compares
    text = stamp.replace('Z', '+00:00')
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


class FakeMigration(object):

    def __init__(self, clock, mid, server_id, source, dest, steps):
        self.clock = clock
        self.id = mid
        self.uuid = str(uuid.uuid4())
        self.server_id = server_id
        self.migration_type = 'live-migration'
        self.source_compute = source
        self.dest_compute = dest
        self.started = clock()
        self.steps = steps
        self.aborted = False
        self.forced = False

    @property
    def status(self):
        if self.aborted:
            return 'cancelled'
        if self.forced:
            return 'completed'
        elapsed = self.clock() - self.started
        status = self.steps[0][1]
        for offset, step in self.steps:
            if elapsed >= offset:
                status = step
        return status


class FakeCompute(object):
    """The compute proxy: servers, services, migrations..."""

    def __init__(self, clock):
        self.clock = clock
        self.lock = threading.Lock()
        self.servers_by_id = {}
        #: servers deleted (status DELETED), listed by changes-since only
        self.deleted_servers = {}
        self.hypervisor_list = []
        self.service_list = []
        self.aggregate_list = []
        self.group_list = []
        self.flavors = {}
        self.migration_list = []
        self.actions = {}
        self.calls = []
        self._ids = itertools.count(1)
        #: how the next live migrations behave, popped in order; default:
        #: DEFAULT_STEPS
        self.behaviours = []
        #: errors raised by abort / force-complete, popped in order
        self.action_errors = []
        #: errors raised by the next status reads, popped in order
        self.read_errors = []

    # -- collector --

    def hypervisors(self, details=False):
        self.calls.append(('hypervisors', details))
        return iter(list(self.hypervisor_list))

    def services(self, binary=None):
        return iter([s for s in self.service_list
                     if binary is None or binary == 'nova-compute'])

    def disable_service(self, service, host=None, binary=None,
                        disabled_reason=None):
        self.calls.append(('disable_service', service.host, disabled_reason))
        service.status = 'disabled'
        service.disabled_reason = disabled_reason
        return service

    def enable_service(self, service, host=None, binary=None):
        self.calls.append(('enable_service', service.host))
        service.status = 'enabled'
        service.disabled_reason = None
        return service

    def aggregates(self):
        return iter(list(self.aggregate_list))

    def servers(self, details=True, all_projects=False, changes_since=None):
        if changes_since is None:
            self.calls.append(('servers', details, all_projects))
            return iter(list(self.servers_by_id.values()))
        # as Nova: changed at or after the time, deleted ones included
        self.calls.append(('servers', details, all_projects,
                           'changes_since'))
        since = _epoch(changes_since)
        return iter([s for s in list(self.servers_by_id.values())
                     + list(self.deleted_servers.values())
                     if s.updated_at and _epoch(s.updated_at) >= since])

    def get(self, url, params=None, microversion=None):
        """``GET /servers/detail`` or ``/os-services`` as Nova answers."""
        if url == '/os-services':
            return FakeResponse({'services': [{
                'id': getattr(svc, 'id', None), 'host': svc.host,
                'binary': 'nova-compute', 'status': svc.status,
                'state': svc.state, 'forced_down': svc.is_forced_down,
                'disabled_reason': svc.disabled_reason,
                'zone': svc.availability_zone}
                for svc in self.services(binary='nova-compute')]})
        if url == '/os-hypervisors/detail':
            listed = list(self.hypervisors(details=True))
            return FakeResponse({'hypervisors': [{
                'id': hv.id, 'hypervisor_hostname': hv.name,
                'service': hv.service_details} for hv in listed]})
        assert url == '/servers/detail', url
        params = dict(params or {})
        since = params.get('changes-since')
        listed = list(self.servers(details=True, all_projects=True,
                                   changes_since=since))
        return FakeResponse({'servers': [_server_json(s) for s in listed]})

    def server_groups(self, all_projects=False):
        self.calls.append(('server_groups', all_projects))
        return iter(list(self.group_list))

    def get_flavor(self, flavor_id):
        self.calls.append(('get_flavor', flavor_id))
        return self.flavors[flavor_id]

    # -- actuator --

    def get_server(self, server_id):
        with self.lock:
            self.calls.append(('get_server', server_id))
            try:
                srv = self.servers_by_id[server_id]
            except KeyError:
                raise http_error(404, 'Instance %s could not be found.'
                                 % server_id)
            for m in self.migration_list:
                if m.server_id == server_id and m.status == 'completed':
                    srv.compute_host = m.dest_compute
            return srv

    def live_migrate_server(self, server, host=None, force=False,
                            block_migration=None):
        with self.lock:
            self.calls.append(('live_migrate_server', server, host, force,
                               block_migration))
            behaviour = self.behaviours.pop(0) if self.behaviours else {}
            if behaviour.get('record', True) and \
                    not behaviour.get('refused', False):
                self.migration_list.append(FakeMigration(
                    self.clock, next(self._ids), server,
                    self.servers_by_id[server].compute_host, host,
                    behaviour.get('steps', DEFAULT_STEPS)))
            self.read_errors.extend(behaviour.get('read_errors', ()))
            if 'raise' in behaviour:
                raise behaviour['raise']

    def _read_error(self):
        if self.read_errors:
            raise self.read_errors.pop(0)

    def server_migrations(self, server_id):
        with self.lock:
            self.calls.append(('server_migrations', server_id))
            self._read_error()
            return iter([m for m in self.migration_list
                         if m.server_id == server_id
                         and m.status in IN_PROGRESS])

    def migrations(self, **query):
        with self.lock:
            self.calls.append(('migrations', tuple(sorted(query))))
            self._read_error()
            server_id = query.get('server_id')
            return iter([m for m in reversed(self.migration_list)
                         if server_id is None or m.server_id == server_id])

    def _migration(self, mid, server_id):
        for m in self.migration_list:
            if m.id == mid and m.server_id == server_id:
                return m
        raise http_error(404, 'migration %s not found' % mid)

    def abort_server_migration(self, mid, server_id, ignore_missing=True):
        with self.lock:
            self.calls.append(('abort', mid, server_id, ignore_missing))
            if self.action_errors:
                raise self.action_errors.pop(0)
            m = self._migration(mid, server_id)
            if m.status not in ('queued', 'preparing', 'running'):
                raise http_error(400, 'cannot abort a migration in status '
                                 '%s' % m.status)
            m.aborted = True

    def force_complete_server_migration(self, mid, server_id):
        with self.lock:
            self.calls.append(('force_complete', mid, server_id))
            if self.action_errors:
                raise self.action_errors.pop(0)
            m = self._migration(mid, server_id)
            if m.status != 'running':
                raise http_error(409, 'migration %s is %s, not running'
                                 % (mid, m.status))
            m.forced = True

    def server_actions(self, server_id):
        return iter(self.actions.get(server_id, ()))

    def get_server_action(self, request_id, server_id):
        for action in self.actions.get(server_id, ()):
            if action.request_id == request_id:
                return action
        raise http_error(404, 'no action %s' % request_id)

    def call_names(self):
        return [c[0] for c in self.calls]


class FakePlacement(object):

    def __init__(self):
        self.providers = []
        self.inventories = {}
        self.calls = []

    def resource_providers(self, **query):
        self.calls.append(('resource_providers',))
        return iter(list(self.providers))

    def resource_provider_inventories(self, rp_id):
        self.calls.append(('inventories', rp_id))
        generation = next((p.generation for p in self.providers
                           if p.id == rp_id), None)
        for inv in self.inventories.get(rp_id, ()):
            inv.resource_provider_generation = generation
        return iter(self.inventories.get(rp_id, ()))

    def get(self, url):
        """``GET /resource_providers[/{uuid}/inventories]`` as JSON."""
        if url == '/resource_providers':
            return FakeResponse({'resource_providers': [
                {'uuid': rp.id, 'name': rp.name,
                 'generation': rp.generation}
                for rp in self.resource_providers()]})
        parts = url.strip('/').split('/')
        assert parts[0] == 'resource_providers' and \
            parts[2] == 'inventories', url
        rp_id = parts[1]
        listed = list(self.resource_provider_inventories(rp_id))
        generation = next((p.generation for p in self.providers
                           if p.id == rp_id), None)
        return FakeResponse({
            'resource_provider_generation': generation,
            'inventories': {inv.resource_class: {
                'total': inv.total, 'reserved': inv.reserved,
                'allocation_ratio': inv.allocation_ratio}
                for inv in listed}})

    def bump(self, rp_id):
        """A change of the provider (inventory or allocations)."""
        for p in self.providers:
            if p.id == rp_id:
                p.generation += 1

    def call_names(self):
        return [c[0] for c in self.calls]


class FakeConnection(object):

    def __init__(self, clock=None):
        self.clock = clock or FakeClock()
        self.compute = FakeCompute(self.clock)
        self.placement = FakePlacement()

    # -- building a cloud --

    def add_host(self, name, vcpus=16, memory_mb=65536, reserved_cpus=0,
                 reserved_mb=512, cpu_ratio=4.0, ram_ratio=1.0, node=None,
                 provider=True, **service_kw):
        hv = hypervisor(node or name, host=name)
        self.compute.hypervisor_list.append(hv)
        self.compute.service_list.append(service(name, **service_kw))
        if provider:
            self.placement.providers.append(res(id=hv.id, name=hv.name,
                                                generation=1))
            self.placement.inventories[hv.id] = [
                inventory('VCPU', vcpus, reserved_cpus, cpu_ratio),
                inventory('MEMORY_MB', memory_mb, reserved_mb, ram_ratio),
                inventory('DISK_GB', 1000),
            ]
        return hv

    def add_server(self, sid, host, **kw):
        srv = server(sid, host, **kw)
        self.compute.servers_by_id[sid] = srv
        return srv

    def delete_server(self, sid, updated_at):
        """Delete a server as Nova does: listed DELETED by changes-since."""
        srv = self.compute.servers_by_id.pop(sid)
        srv.status, srv.updated_at = 'DELETED', updated_at
        self.compute.deleted_servers[sid] = srv
        return srv
