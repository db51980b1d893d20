# SPDX-License-Identifier: Apache-2.0
"""An instance's balloon floor, opt-out and balloon state.

The floor and the opt-out are the Nova server's metadata (the agent and
the balancer read them there), so they are read from and written to Nova
with the caller's own token (:mod:`nova_drs.api.nova_servers`): a server
Nova does not show the caller is a 404 here too. The policy rules are
then checked on the server's project and user (as Nova checks its own,
once it has the instance): ``drs:instance:show`` or
``drs:instance:update``, and ``drs:instance:show:host`` for the compute
host, null for whom it refuses.

The balloon state comes from the agent's latest report of the server's
host, when the balancer stored one per guest (``host_states.balloon``,
key ``guests``). Nova shows the host to admins only; for anyone else the
host is found from the server's ``hostId``, which Nova computes as
``sha224(project_id + host)``, among the host names nova-drs knows, so
that a project member sees its own instance's balloon state without the
host's name.
"""

import hashlib

from nova_drs.agent import nova_metadata
from nova_drs.api import access
from nova_drs.api import errors
from nova_drs.api import policies

#: metadata values that mean "opted out" (as the balancer reads them)
TRUE_VALUES = ('1', 'true', 'yes', 'on')


def _floor(value):
    if value is None:
        return None
    try:
        return int(nova_metadata.parse_floor(value))
    except (TypeError, ValueError, OverflowError):
        return None


def host_id(project_id, host):
    """Nova's ``hostId`` of a server of ``project_id`` on ``host``."""
    return hashlib.sha224((project_id + host).encode('utf-8')).hexdigest()


def _host(call, server):
    """The server's compute host: Nova's when shown, else by ``hostId``."""
    host = getattr(server, 'compute_host', None)
    if host:
        return host
    wanted = getattr(server, 'host_id', None)
    project_id = getattr(server, 'project_id', None)
    if not wanted or not project_id:
        # NOTE: a server not scheduled yet, or shelved: no host
        return None
    for name in call.db.list_host_names():
        if host_id(project_id, name) == wanted:
            return name
    return None


def _balloon(call, host, server_id):
    if not host:
        return None
    rows = call.db.list_host_states(hosts=[host])
    if not rows or not isinstance(rows[0].balloon, dict):
        return None
    guests = rows[0].balloon.get('guests')
    if not isinstance(guests, dict):
        return None
    return guests.get(server_id)


def view(call, server):
    metadata = server.metadata or {}
    opt_out_key = call.conf.drs_balancer.opt_out_metadata_key
    floor_key = call.conf.drs_balloon.floor_metadata_key
    host = _host(call, server)
    shows_host = call.allowed(policies.INSTANCE_SHOW_HOST,
                              access.server_target(server))
    return {
        'uuid': server.id,
        'host': host if shows_host else None,
        'opt_out': str(metadata.get(opt_out_key, '')).strip().lower()
        in TRUE_VALUES,
        'balloon_floor_mb': _floor(metadata.get(floor_key)),
        'balloon': _balloon(call, host, server.id),
    }


def _server(call, uuid):
    server = call.nova.get(uuid)
    if server is None:
        raise errors.NotFound('Nova has no server %s, or does not show it '
                              'to this token' % uuid)
    return server


def show(call, uuid):
    server = _server(call, uuid)
    call.authorize(policies.INSTANCE_SHOW, access.server_target(server))
    return 200, {'instance': view(call, server)}


def update(call, uuid):
    server = _server(call, uuid)
    call.authorize(policies.INSTANCE_UPDATE, access.server_target(server))
    opt_out_key = call.conf.drs_balancer.opt_out_metadata_key
    floor_key = call.conf.drs_balloon.floor_metadata_key
    set_items, delete_keys = {}, []
    if 'opt_out' in call.body:
        if call.body['opt_out']:
            set_items[opt_out_key] = 'true'
        else:
            # NOTE: no key is "not opted out"; deleting it also clears a
            # value such as "yes" set by hand
            delete_keys.append(opt_out_key)
    if 'balloon_floor_mb' in call.body:
        floor = call.body['balloon_floor_mb']
        if floor is None:
            delete_keys.append(floor_key)
        else:
            set_items[floor_key] = str(int(floor))
    call.nova.update_metadata(server, set_items,
                              [k for k in delete_keys
                               if k in (server.metadata or {})])
    return 200, {'instance': view(call, _server(call, uuid))}
