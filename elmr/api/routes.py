"""The one routing map of elmr's port: which part of the server answers a request.

One port speaks four things. The node agents' endpoints, elmr's own API (under
/elmr/v1/, for `elmr spot` and `elmr cost`) and the console (to come) live under path
prefixes of their own, reserved before S3 takes the rest: no bucket
may be named after them (`elmr`, `console`), so no S3 path ever means one of them.
EMR's JSON protocol is addressed by its `X-Amz-Target` header, whatever the path.
Everything else is S3's: path-style (`/bucket/key`) or virtual-hosted
(`bucket.host/key`: a host naming a bucket makes any other request S3's, whatever
its path).

An S3 client may still name a reserved bucket (`aws s3 cp f s3://elmr/k`): a request
under a reserved prefix that is signed for S3 goes to S3, which answers in its own XML
that no such bucket exists; other requests there get a 404 in EMR's JSON shape."""

from dataclasses import dataclass

from elmr.admin_protocol import PREFIX as ADMIN_PREFIX
from elmr.node_protocol import CREDENTIALS_PATH, HEARTBEAT_PATH, LOGS_PATH, OBJECT_PATH

# Endpoints: each family answers its errors in its own shape (app.py).
AGENT_CREDENTIALS = "agent.credentials"
AGENT_HEARTBEAT = "agent.heartbeat"
AGENT_LOGS = "agent.logs"
AGENT_OBJECT = "agent.object"
ADMIN = "admin"  # elmr's own JSON API (admin_protocol.py): `elmr spot`, `elmr cost`
EMR = "emr"  # the AWS JSON protocol, by X-Amz-Target
S3 = "s3"
NOT_SERVED = "not-served"  # under a reserved prefix, nothing there (yet)

_EXACT = {
    ("POST", HEARTBEAT_PATH): AGENT_HEARTBEAT,
    ("POST", LOGS_PATH): AGENT_LOGS,
    ("GET", OBJECT_PATH): AGENT_OBJECT,
    ("GET", CREDENTIALS_PATH): AGENT_CREDENTIALS,
}
# Path prefix -> what it is kept for (said in the 404 of a path with nothing there).
RESERVED_PREFIXES = {
    "/elmr/": "the node agents' endpoints and elmr's own API",
    "/console/": "elmr's console, which this server does not serve yet",
}
# What CreateBucket refuses: a bucket of these names could not be reached path-style.
RESERVED_BUCKET_NAMES = frozenset(prefix.strip("/") for prefix in RESERVED_PREFIXES)


@dataclass(frozen=True)
class Route:
    endpoint: str
    reserved_for: str | None = None  # NOT_SERVED: what the prefix is kept for


def route(method: str, path: str, host: str, headers, query_args) -> Route:
    """Who answers `method path` (path decoded, as werkzeug's request.path)."""
    endpoint = _EXACT.get((method, path))
    if endpoint is not None:
        return Route(endpoint)
    if "X-Amz-Target" in headers:
        return Route(EMR)
    if virtual_hosted_bucket(host) is not None:
        return Route(S3)
    for prefix, kept_for in RESERVED_PREFIXES.items():
        if path.startswith(prefix):
            if signed_for_s3(headers, query_args):
                return Route(S3)
            return Route(ADMIN) if path.startswith(ADMIN_PREFIX) else Route(NOT_SERVED, kept_for)
    return Route(S3)


def virtual_hosted_bucket(host: str) -> str | None:
    """The bucket a virtual-hosted-style Host names (`bucket.localhost:8900`), or None
    for the server's own address (an IP address, `localhost`, `s3.…`)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    labels = name.split(".")
    if len(labels) > 1 and not name.replace(".", "").isdigit() and labels[0] not in ("localhost", "s3"):
        return labels[0]
    return None


def signed_for_s3(headers, query_args) -> bool:
    """Whether the request carries S3's credentials: a SigV4 scope naming s3 (header
    or presigned query), or SigV2 (S3's older signatures)."""
    authorization = headers.get("Authorization", "")
    if authorization.startswith("AWS "):
        return True
    credential = authorization.partition("Credential=")[2] or query_args.get("X-Amz-Credential", "")
    return "/s3/aws4_request" in credential or "AWSAccessKeyId" in query_args


def raw_path(request) -> str:
    """The path exactly as the client sent it (still URI-encoded), which is what
    the client signed; werkzeug's request.path is already decoded."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw_uri:
        return raw_uri.split("?", 1)[0]
    return request.environ.get("PATH_INFO", "/")
