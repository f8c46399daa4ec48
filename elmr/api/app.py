"""The WSGI application every client talks to: EMR's JSON protocol (SigV4 signed),
the agents' endpoints (node token: heartbeats, log uploads, object downloads), and
S3 for everything else. Thin by design: decode, authenticate, call one service
function, encode; every error leaves through `_error_response`."""

import json
import logging
import time

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from elmr.api import emr_protocol, sigv4
from elmr.api.file_range import FileRange
from elmr.api.operations import (
    AGENT_CREDENTIALS,
    AGENT_HEARTBEAT,
    AGENT_LOGS,
    AGENT_OBJECT,
    EMR_OPERATIONS,
)
from elmr.node_protocol import CREDENTIALS_PATH, HEARTBEAT_PATH, LOGS_PATH, OBJECT_PATH
from elmr.service.context import ServiceContext
from elmr.service.errors import (
    EmrError,
    InternalServerException,
    OperationNotImplemented,
    ValidationException,
)

log = logging.getLogger("elmr.api")
MAX_BODY_BYTES = 64 * 1024 * 1024  # EMR requests and log uploads are small; refuse floods early


class ElmrApp:
    def __init__(self, ctx: ServiceContext, credentials):
        """`credentials.secret_for(access_key_id)`: the keys the server accepts."""
        self.ctx = ctx
        self.credentials = credentials
        # The S3 API shares the port: what is neither EMR nor a heartbeat is S3's.
        self.s3 = None  # set by the object store: a callable Request -> Response

    def __call__(self, environ, start_response):
        request = Request(environ)
        if "X-Amz-Target" in request.headers or request.path.startswith("/elmr/"):
            request.max_content_length = MAX_BODY_BYTES  # S3 bodies may be large
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        try:
            if request.method == "POST" and request.path == HEARTBEAT_PATH:
                return self._heartbeat(request)
            if request.method == "POST" and request.path == LOGS_PATH:
                AGENT_LOGS(self.ctx, request.args.to_dict(), request.get_data())
                return Response("{}", content_type="application/json")
            if request.method == "GET" and request.path == OBJECT_PATH:
                found, opened = AGENT_OBJECT(self.ctx, request.args.to_dict())
                return Response(FileRange(opened, 0, found.size - 1), direct_passthrough=True,
                                content_type="application/octet-stream",
                                headers={"Content-Length": str(found.size)})
            if request.method == "GET" and request.path == CREDENTIALS_PATH:
                answer = AGENT_CREDENTIALS(self.ctx, request.headers.get("Authorization", ""))
                return Response(json.dumps(answer), content_type="application/json")
            target = request.headers.get("X-Amz-Target", "")
            if request.method == "POST" and target.startswith(emr_protocol.TARGET_PREFIX):
                return self._emr(request, target[len(emr_protocol.TARGET_PREFIX):])
            if self.s3 is not None:
                return self.s3(request)
            return _error_response(
                ValidationException(f"No EMR operation at {request.method} {request.path}"),
                status=404,
            )
        except EmrError as error:
            return _error_response(error)
        except HTTPException as error:  # e.g. body over MAX_BODY_BYTES
            return _error_response(ValidationException(error.description or str(error)),
                                   status=error.code or 400)
        except Exception:
            log.exception("unhandled error answering %s %s", request.method, request.path)
            return _error_response(InternalServerException(
                "elmr failed to answer this request; the server log has the details."
            ))

    def _emr(self, request: Request, operation_name: str) -> Response:
        started = time.monotonic()
        body = request.get_data()
        sigv4.verify_request(
            method=request.method,
            raw_path=raw_path(request),
            query_string=request.query_string.decode(),
            headers=request.headers,
            payload_sha256=sigv4.payload_hash(body),
            secret_for_key=self.credentials.secret_for,
            now=self.ctx.clock(),
        )
        operation = emr_protocol.operation_model(operation_name)
        if operation is None:
            raise ValidationException(f"Unknown EMR operation {operation_name}")
        handler = EMR_OPERATIONS.get(operation_name)
        if handler is None:
            raise OperationNotImplemented(operation_name)
        params = emr_protocol.decode_input(operation, body)
        answer = handler(self.ctx, params)
        log.info("%s answered in %.1f ms", operation_name, (time.monotonic() - started) * 1000)
        return Response(emr_protocol.encode_output(operation, answer),
                        content_type=emr_protocol.CONTENT_TYPE)

    def _heartbeat(self, request: Request) -> Response:
        try:
            heartbeat = json.loads(request.get_data() or b"{}")
        except ValueError:
            raise ValidationException("A heartbeat must be a JSON object.") from None
        if not isinstance(heartbeat, dict):
            raise ValidationException("A heartbeat must be a JSON object.")
        reply = AGENT_HEARTBEAT(self.ctx, heartbeat)
        return Response(json.dumps(reply), content_type="application/json")


def raw_path(request: Request) -> str:
    """The path exactly as the client sent it (still URI-encoded), which is what
    the client signed; werkzeug's request.path is already decoded."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw_uri:
        return raw_uri.split("?", 1)[0]
    return request.environ.get("PATH_INFO", "/")


def _error_response(error: EmrError, status: int | None = None) -> Response:
    return Response(
        emr_protocol.encode_error(error),
        status=status or error.http_status,
        content_type=emr_protocol.CONTENT_TYPE,
        headers={"x-amzn-ErrorType": error.code},
    )
