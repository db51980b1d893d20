# SPDX-License-Identifier: Apache-2.0
"""An instance's balloon floor, opt-out and balloon state.

The floor and the opt-out are the Nova server's metadata (the agent and
the balancer read them there), so they are read from and written to Nova;
the balloon state comes from the agent's latest report of the server's
host, when the balancer stored one per guest (``host_states.balloon``,
key ``guests``).
"""

from nova_drs.agent import nova_metadata
from nova_drs.api import errors

#: metadata values that mean "opted out" (as the balancer reads them)
TRUE_VALUES = ('1', 'true', 'yes', 'on')


def _floor(value):
    if value is None:
        return None
    try:
        return int(nova_metadata.parse_floor(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _balloon(call, server):
    host = getattr(server, 'compute_host', None)
    if not host:
        return None
    rows = call.db.list_host_states(hosts=[host])
    if not rows or not isinstance(rows[0].balloon, dict):
        return None
    guests = rows[0].balloon.get('guests')
    if not isinstance(guests, dict):
        return None
    return guests.get(server.id)


def view(call, server):
    metadata = server.metadata or {}
    opt_out_key = call.conf.drs_balancer.opt_out_metadata_key
    floor_key = call.conf.drs_balloon.floor_metadata_key
    return {
        'uuid': server.id,
        'host': getattr(server, 'compute_host', None),
        'opt_out': str(metadata.get(opt_out_key, '')).strip().lower()
        in TRUE_VALUES,
        'balloon_floor_mb': _floor(metadata.get(floor_key)),
        'balloon': _balloon(call, server),
    }


def _server(call, uuid):
    server = call.nova.get(uuid)
    if server is None:
        raise errors.NotFound('Nova has no server %s' % uuid)
    return server


def show(call, uuid):
    return 200, {'instance': view(call, _server(call, uuid))}


def update(call, uuid):
    server = _server(call, uuid)
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
