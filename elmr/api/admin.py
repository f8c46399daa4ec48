"""elmr's own JSON API under /elmr/v1/ (elmr/admin_protocol.py): the spot market
driven by hand and the cost report. Authenticated as the EMR API is (SigV4, the
server's root key); a GET's parameters come from its query, a POST's from its JSON
body; each route calls one service function. Errors are raised as EMR errors and
serialised by the app, like every other."""

import json

from werkzeug.wrappers import Request, Response

from elmr.admin_protocol import COST_PATH, SPOT_CAPACITY_PATH, SPOT_INTERRUPT_PATH, SPOT_PATH, \
    SPOT_PRICE_PATH
from elmr.api import sigv4
from elmr.credentials import RootCredentials
from elmr.service import costs, spot
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException

ROUTES = {
    ("GET", SPOT_PATH): spot.describe_market,
    ("POST", SPOT_PRICE_PATH): spot.set_spot_price,
    ("POST", SPOT_CAPACITY_PATH): spot.set_spot_capacity,
    ("POST", SPOT_INTERRUPT_PATH): spot.interrupt_spot,
    ("GET", COST_PATH): costs.describe_cost,
}
# Query parameters that may repeat, and the list each fills.
_REPEATED = {"InstanceType": "InstanceTypes", "AvailabilityZone": "AvailabilityZones"}


def answer(ctx: ServiceContext, credentials: RootCredentials, request: Request, raw_path: str) -> Response:
    body = request.get_data()
    sigv4.verify_request(
        method=request.method, raw_path=raw_path, query_string=request.query_string.decode(),
        headers=request.headers, payload_sha256=sigv4.payload_hash(body),
        secret_for_key=credentials.secret_for, now=ctx.clock(),
    )
    handler = ROUTES.get((request.method, request.path))
    if handler is None:
        raise InvalidRequestException(f"elmr has no operation at {request.method} {request.path}.")
    params = _query_params(request) if request.method == "GET" else _json_params(body)
    return Response(json.dumps(handler(ctx, params)), content_type="application/json")


def _query_params(request: Request) -> dict:
    params = {}
    for name, values in request.args.lists():
        if name in _REPEATED:
            params[_REPEATED[name]] = values
        else:
            params[name] = values[-1]
    return params


def _json_params(body: bytes) -> dict:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise ValidationException("The request body must be a JSON object.") from None
    if not isinstance(params, dict):
        raise ValidationException("The request body must be a JSON object.")
    return params
