"""The WSGI application every client talks to. routes.py says who answers a request:
EMR's JSON protocol (SigV4 signed), the agents' endpoints (node token: heartbeats,
log uploads, object downloads), the console's prefix (not served yet), or S3 for
everything else. Thin by design: decode, authenticate, call one service function,
encode. Each family sends its errors in its own shape from one place: the JSON ones
through `_json_error`, S3's as XML through s3_xml.error (S3Api)."""

import json
import logging
import time
import uuid

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from elmr.api import admin, agent_endpoints, emr_protocol, routes, sigv4
from elmr.api.file_range import FileRange
from elmr.api.http_request import MalformedBody
from elmr.api.operations import EMR_OPERATIONS
from elmr.api.s3 import S3Api
from elmr.credentials import RootCredentials
from elmr.service.context import ServiceContext
from elmr.service.errors import (
    EmrError,
    InternalServerException,
    OperationNotImplemented,
    ValidationException,
)

log = logging.getLogger("elmr.api")
MAX_BODY_BYTES = 64 * 1024 * 1024  # EMR requests and log uploads are small; refuse floods early


class UnknownOperation(EmrError):
    """An X-Amz-Target naming no operation of a service elmr speaks."""

    code = "UnknownOperationException"
    http_status = 400


class NotServed(EmrError):
    """A path under a reserved prefix (routes.py) with nothing there."""

    code = "ResourceNotFoundException"
    http_status = 404


class ElmrApp:
    def __init__(self, ctx: ServiceContext, credentials):
        """`credentials.secret_for(access_key_id)`: the keys the server accepts."""
        self.ctx = ctx
        self.credentials = credentials
        self.s3 = S3Api(ctx, credentials)

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        route = routes.route(request.method, request.path, request.host, request.headers, request.args)
        if route.endpoint == routes.S3:
            return self.s3(request)
        request.max_content_length = MAX_BODY_BYTES  # S3 bodies may be large, these may not
        request_id = str(uuid.uuid4())
        try:
            response = self._json_family(request, route)
        except EmrError as error:
            response = _json_error(error)
        except MalformedBody as bad:
            response = _json_error(ValidationException(bad.message))
        except TimeoutError:
            response = _json_error(ValidationException("The request body was not sent within the timeout."))
        except HTTPException as error:  # e.g. body over MAX_BODY_BYTES
            response = _json_error(ValidationException(error.description or str(error)), error.code or 400)
        except Exception:
            log.exception("unhandled error answering %s %s (request %s)", request.method, request.path, request_id)
            response = _json_error(InternalServerException(
                f"elmr failed to answer this request; the server log has the details (request {request_id})."))
        response.headers["x-amzn-RequestId"] = request_id
        return response

    def _json_family(self, request: Request, route: routes.Route) -> Response:
        if route.endpoint == routes.EMR:
            return self._emr(request, request.headers["X-Amz-Target"])
        if route.endpoint == routes.ADMIN:
            return admin.answer(self.ctx, self.credentials, request, routes.raw_path(request))
        if route.endpoint == routes.AGENT_HEARTBEAT:
            return _json(agent_endpoints.heartbeat(self.ctx, request.get_data()))
        if route.endpoint == routes.AGENT_LOGS:
            agent_endpoints.store_log(self.ctx, request.args.to_dict(), request.get_data())
            return _json({})
        if route.endpoint == routes.AGENT_CREDENTIALS:
            return _json(agent_endpoints.credentials(self.ctx, request.headers.get("Authorization", "")))
        if route.endpoint == routes.AGENT_OBJECT:
            found, opened = agent_endpoints.object_for_node(self.ctx, request.args.to_dict())
            return Response(FileRange(opened, 0, found.size - 1), direct_passthrough=True,
                            content_type="application/octet-stream",
                            headers={"Content-Length": str(found.size)})
        raise NotServed(f"Nothing is served at {request.path}: the prefix is kept for {route.reserved_for}.")

    def _emr(self, request: Request, target: str) -> Response:
        started = time.monotonic()
        body = request.get_data()
        sigv4.verify_request(
            method=request.method,
            raw_path=routes.raw_path(request),
            query_string=request.query_string.decode(errors="replace"),
            headers=request.headers,
            payload_sha256=sigv4.payload_hash(body),
            secret_for_key=self.credentials.secret_for,
            now=self.ctx.clock(),
        )
        service, _, operation_name = target.partition(".")
        operation = emr_protocol.operation_model(operation_name) if service + "." == emr_protocol.TARGET_PREFIX \
            else None
        if operation is None or request.method != "POST":
            raise UnknownOperation(f"No operation {target!r} at {request.method} {request.path}.")
        handler = EMR_OPERATIONS.get(operation_name)
        if handler is None:
            raise OperationNotImplemented(operation_name)
        params = emr_protocol.decode_input(operation, body)
        answer = handler(self.ctx, params)
        log.info("%s answered in %.1f ms", operation_name, (time.monotonic() - started) * 1000)
        return Response(emr_protocol.encode_output(operation, answer),
                        content_type=emr_protocol.CONTENT_TYPE)


def _json(answer: dict) -> Response:
    return Response(json.dumps(answer), content_type="application/json")


def _json_error(error: EmrError, status: int | None = None) -> Response:
    """Every error of the JSON family, as AWS's JSON protocol sends it: `__type` in
    the body and the x-amzn-ErrorType header (botocore reads the code from either)."""
    return Response(
        emr_protocol.encode_error(error),
        status=status or error.http_status,
        content_type=emr_protocol.CONTENT_TYPE,
        headers={"x-amzn-ErrorType": error.code},
    )
