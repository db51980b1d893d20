# SPDX-License-Identifier: Apache-2.0
"""The API's one error shape.

Every error answer is ``{"error": {"code", "title", "message"}}`` (the
shape keystonemiddleware uses for its 401, so a client sees one format),
JSON, never with a traceback. An unexpected exception becomes a 500 with
a generic message; its details go to the log only.
"""

import http

from oslo_serialization import jsonutils
import webob


class APIError(Exception):
    """An answer other than success; ``message`` is shown to the user."""

    code = 500

    def __init__(self, message, headers=None):
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})

    def response(self):
        return error_response(self.code, self.message, self.headers)


class BadRequest(APIError):
    code = 400


class Forbidden(APIError):
    code = 403


class NotFound(APIError):
    code = 404


class MethodNotAllowed(APIError):
    code = 405

    def __init__(self, method, allowed):
        super().__init__('method %s is not allowed here; allowed: %s'
                         % (method, ', '.join(allowed)),
                         headers={'Allow': ', '.join(allowed)})


class NotAcceptable(APIError):
    code = 406


class Conflict(APIError):
    code = 409


class UnsupportedMediaType(APIError):
    code = 415


class ServiceUnavailable(APIError):
    code = 503


def title(code):
    """The HTTP reason phrase of ``code`` (``Not Found``)."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return 'Error'


def error_response(code, message, headers=None):
    """A webob response with the JSON error body."""
    body = {'error': {'code': code, 'title': title(code),
                      'message': message}}
    response = webob.Response(status=code, charset='UTF-8',
                              content_type='application/json',
                              body=jsonutils.dump_as_bytes(body))
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


#: the message of every 500: the cause is in the API's log
INTERNAL_ERROR = ('The server could not complete the request because of an '
                  'internal error; the API\'s log has the details.')
