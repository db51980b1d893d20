# SPDX-License-Identifier: Apache-2.0
"""``nova_drs.wsgi.api:application``: the API under uWSGI (or any server).

Built once per process, when the server imports this module, from the
files named by ``NOVA_DRS_API_CONFIG`` (default
``/etc/nova-drs/nova-drs.conf``; see :mod:`nova_drs.api.deploy`). A
configuration that cannot be used stops the worker with a one-line
message. Example uWSGI file: ``etc/nova-drs/nova-drs-api-uwsgi.ini``.
"""

from nova_drs.api import deploy

application = deploy.load_or_exit()
