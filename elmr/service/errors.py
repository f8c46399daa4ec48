"""Typed EMR errors raised by the service layer and serialised once, by the api layer.

Each class carries the `__type` EMR puts on the wire and the HTTP status AWS uses,
so a handler never builds an error body by hand.
"""


class EmrError(Exception):
    """Base of every error an EMR client may see; `code` is the wire `__type`."""

    code = "InternalServerException"
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequestException(EmrError):
    """The request is well formed but not allowed (unknown cluster, protected cluster…)."""

    code = "InvalidRequestException"
    http_status = 400


class ValidationException(EmrError):
    """An input does not fit the operation's shape or its documented limits."""

    code = "ValidationException"
    http_status = 400


class InternalServerException(EmrError):
    """elmr itself failed; the message says what, never with a traceback."""

    code = "InternalServerException"
    http_status = 500


class OperationNotImplemented(EmrError):
    """An operation of botocore's EMR model that elmr does not implement yet."""

    code = "InvalidRequestException"
    http_status = 400

    def __init__(self, operation_name: str):
        super().__init__(
            f"elmr does not implement the EMR operation {operation_name} yet"
        )


class AuthError(EmrError):
    """The request's credentials or signature were refused; nothing was done."""

    http_status = 400

    def __init__(self, code: str, message: str, http_status: int = 400):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
