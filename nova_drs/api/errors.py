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


class Unauthorized(APIError):
    code = 401


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


class LengthRequired(APIError):
    code = 411


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


def is_error_body(response):
    """Whether a webob response's body is already an error of this shape."""
    if response.content_type != 'application/json':
        return False
    try:
        error = jsonutils.loads(response.body)['error']
        return (error['code'] == response.status_int
                and isinstance(error['title'], str)
                and isinstance(error['message'], str))
    except (ValueError, TypeError, KeyError):
        return False


#: what an error answered by the layers before the API means
_FOREIGN_MESSAGES = {
    400: 'The request\'s authentication headers are not valid.',
    401: 'The request you have made requires authentication.',
    503: 'The identity service (Keystone) cannot validate the token now; '
         'try again later.',
}


def foreign_message(response):
    """A message for an error that keystonemiddleware answered."""
    return _FOREIGN_MESSAGES.get(
        response.status_int,
        'The request was refused before reaching the API (%s).'
        % response.status)


#: the message of every 500: the cause is in the API's log
INTERNAL_ERROR = ('The server could not complete the request because of an '
                  'internal error; the API\'s log has the details.')
