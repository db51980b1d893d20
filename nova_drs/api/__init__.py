# SPDX-License-Identifier: Apache-2.0
"""The nova-drs REST API (service type ``drs``), see doc/source/api.rst.

Plain WSGI with webob: :mod:`.app` builds the application (routing,
version negotiation, authentication, policy, validation, errors), each
module of :mod:`.controllers` serves one resource. Deployed as
``nova_drs.wsgi.api:application`` under uWSGI, or run by ``nova-drs-api``
for development.
"""
