"""AWS Signature Version 4, checked on the server side, before any service function
runs: header auth (`Authorization: AWS4-HMAC-SHA256 …`) and presigned query auth.

The canonical request is rebuilt from the request exactly as the client sent it (raw
path and query), following botocore's signer: for most services the path is
normalised and URI-encoded once more; for S3 it is used as sent. Errors carry the
codes AWS uses: the JSON-protocol ones for EMR, S3's own for the S3 API.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from elmr.service.errors import AuthError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES_S = 7 * 24 * 3600  # a presigned URL lives a week at most, as on AWS
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class VerifiedRequest:
    access_key_id: str
    region: str
    service: str
    signed_headers: tuple
    presigned: bool
    # What the signatures of an aws-chunked body's chunks chain from (ChunkSignatures).
    signature: str = ""
    amz_date: str = ""
    scope: str = ""
    signing_key: bytes = b""


class ChunkSignatures:
    """The chain of signatures of a body sent as STREAMING-AWS4-HMAC-SHA256-PAYLOAD
    (S3's signed chunks, what the AWS SDK for Java, and so Hadoop's S3A, sends over
    plain HTTP): each chunk's signature signs its bytes' SHA-256 and the previous
    signature, starting from the request's own; the trailer's, if any, signs the
    trailing headers the same way."""

    def __init__(self, verified: VerifiedRequest):
        self.verified = verified
        self.previous = verified.signature

    def _sign(self, kind: str, *hashes: str) -> str:
        string_to_sign = "\n".join([kind, self.verified.amz_date, self.verified.scope, self.previous, *hashes])
        return hmac.new(self.verified.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    def check_chunk(self, chunk_sha256: str, claimed: str) -> None:
        self._check(self._sign("AWS4-HMAC-SHA256-PAYLOAD", _EMPTY_SHA256, chunk_sha256), claimed)

    def check_trailer(self, trailer: bytes, claimed: str) -> None:
        """`trailer`: the trailing header lines as sent, `name:value\n` each."""
        self._check(self._sign("AWS4-HMAC-SHA256-TRAILER", hashlib.sha256(trailer).hexdigest()), claimed)

    def _check(self, expected: str, claimed: str) -> None:
        if not signatures_match(expected, claimed):
            raise _refuse(S3_CODES.bad_signature)
        self.previous = claimed


@dataclass(frozen=True)
class _Codes:
    """The error codes for refusals, per protocol family."""

    missing: tuple
    unknown_key: tuple
    bad_signature: tuple
    malformed: tuple
    expired: tuple
    bad_query: tuple  # a presigned query's own parameters


# AWS's JSON protocol: 403 for a request without credentials or with a key nobody has
# (the code as botocore reads it from `__type`), 400 for a malformed or wrong signature.
JSON_CODES = _Codes(
    missing=("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
    unknown_key=("UnrecognizedClientException", 403,
                 "The security token included in the request is invalid."),
    bad_signature=("InvalidSignatureException", 400,
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method. Consult "
                   "the service documentation for details."),
    malformed=("IncompleteSignatureException", 400, "The request signature is malformed: "),
    expired=("InvalidSignatureException", 400, "Signature expired: "),
    bad_query=("IncompleteSignatureException", 400, "The request signature is malformed: "),
)
S3_CODES = _Codes(
    missing=("AccessDenied", 403, "Access Denied"),
    unknown_key=("InvalidAccessKeyId", 403,
                 "The AWS Access Key Id you provided does not exist in our records."),
    bad_signature=("SignatureDoesNotMatch", 403,
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method."),
    malformed=("AuthorizationHeaderMalformed", 400, "The authorization header is malformed: "),
    expired=("RequestTimeTooSkewed", 403,
             "The difference between the request time and the current time is too large: "),
    bad_query=("AuthorizationQueryParametersError", 400, ""),
)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _refuse(code: tuple, detail: str = "") -> AuthError:
    name, status, message = code
    return AuthError(name, message + detail, status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup on a plain dict as well as on werkzeug's Headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _parse_query(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query_string.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key.replace("+", "%20")), unquote(value.replace("+", "%20"))))
    return pairs


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _as_sent(value: str) -> str:
    """A header value as the bytes the client sent and signed: WSGI hands each byte as
    a latin-1 character, and a client sending UTF-8 (non-ASCII user metadata) signed
    the UTF-8. Undecodable bytes are kept as surrogates, so that encoding the
    canonical request gives them back."""
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not from WSGI: already text
        return value


def _canonical_headers(headers, signed: tuple) -> str:
    # Indexed in one pass: werkzeug's EnvironHeaders.getlist walks the whole WSGI
    # environ for every name asked: a signature check took ~320 µs with it, ~140 without.
    values_by_name: dict[str, list[str]] = {}
    for name, value in headers.items():
        values_by_name.setdefault(name.lower(), []).append(value)
    lines = []
    for name in signed:
        values = values_by_name.get(name, [])
        lines.append(f"{name}:{','.join(' '.join(_as_sent(v).split()) for v in values)}\n")
    return "".join(lines)


def _canonical_path(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    return quote(normalize_url_path(raw_path), safe="/~")


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclass
class _Signed:
    """What the client claims: from the Authorization header or the query string."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple
    signature: str
    amz_date: str
    expires_s: int | None  # presigned only


def _from_header(authorization: str, headers, codes: _Codes) -> _Signed:
    if not authorization.startswith(ALGORITHM + " "):
        raise _refuse(codes.malformed, "only AWS4-HMAC-SHA256 is supported")
    fields = {}
    for item in authorization[len(ALGORITHM) + 1:].split(","):
        key, _, value = item.strip().partition("=")
        fields[key] = value
    amz_date = _header(headers, "X-Amz-Date") or ""
    return _signed_from(fields.get("Credential"), fields.get("SignedHeaders"),
                        fields.get("Signature"), amz_date, None, codes)


def _from_query(query: dict, codes: _Codes) -> _Signed:
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise _refuse(codes.malformed, "only AWS4-HMAC-SHA256 is supported")
    try:
        expires = int(query.get("X-Amz-Expires", "0"))
    except ValueError:
        raise _refuse(codes.bad_query, "X-Amz-Expires should be a number") from None
    if expires < 0:
        raise _refuse(codes.bad_query, "X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGNED_EXPIRES_S:
        raise _refuse(codes.bad_query, f"X-Amz-Expires must be less than a week (in seconds) that is "
                                       f"{MAX_PRESIGNED_EXPIRES_S}")
    return _signed_from(query.get("X-Amz-Credential"), query.get("X-Amz-SignedHeaders"),
                        query.get("X-Amz-Signature"), query.get("X-Amz-Date", ""), expires, codes)


def _signed_from(credential, signed_headers, signature, amz_date, expires, codes) -> _Signed:
    if not (credential and signed_headers and signature and amz_date):
        raise _refuse(codes.malformed, "Credential, SignedHeaders, Signature and X-Amz-Date are required")
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _refuse(codes.malformed, f"bad credential scope '{credential}'")
    return _Signed(parts[0], parts[1], parts[2], parts[3],
                   tuple(signed_headers.lower().split(";")), signature, amz_date, expires)


def _check_time(signed: _Signed, now: datetime, codes: _Codes) -> None:
    try:
        signed_at = datetime.strptime(signed.amz_date, _DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise _refuse(codes.malformed, f"bad X-Amz-Date '{signed.amz_date}'") from None
    if signed.expires_s is not None:
        if now - signed_at > timedelta(seconds=signed.expires_s):  # (never past datetime.max)
            raise AuthError("AccessDenied", "Request has expired", 403)
        return
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise _refuse(codes.expired, f"{signed.amz_date} is not within 15 minutes of "
                                     f"{now.strftime(_DATE_FORMAT)}.")


def verify_request(
    method: str,
    raw_path: str,
    query_string: str,
    headers,
    payload_sha256: str | None,
    secret_for_key: Callable[[str], str | None],
    now: datetime,
    protocol: str = "json",
) -> VerifiedRequest:
    """Check the request's signature; raise AuthError (nothing done) if refused.

    `raw_path` and `query_string` are as the client sent them (still URI-encoded);
    `payload_sha256` is the body's SHA-256, or None where the client's
    x-amz-content-sha256 header is to be trusted (streamed S3 bodies, checked as read).
    """
    codes = S3_CODES if protocol == "s3" else JSON_CODES
    pairs = _parse_query(query_string)
    query = dict(pairs)
    authorization = _header(headers, "Authorization")
    if authorization:
        signed = _from_header(authorization, headers, codes)
    elif "X-Amz-Signature" in query:
        signed = _from_query(query, codes)
        pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    else:
        raise _refuse(codes.missing)
    secret = secret_for_key(signed.access_key_id)
    if secret is None:
        raise _refuse(codes.unknown_key)
    _check_time(signed, now, codes)

    content_sha256 = _header(headers, "X-Amz-Content-SHA256")
    if signed.expires_s is not None:
        body_hash = content_sha256 or UNSIGNED_PAYLOAD
    elif content_sha256 is not None:
        body_hash = content_sha256
        if payload_sha256 is not None and content_sha256 not in _LITERAL_PAYLOAD_HASHES \
                and not content_sha256.startswith("STREAMING-") and content_sha256 != payload_sha256:
            raise _refuse(codes.bad_signature)
    else:
        body_hash = payload_sha256 or UNSIGNED_PAYLOAD
    canonical_request = "\n".join([
        method.upper(),
        _canonical_path(raw_path, signed.service),
        _canonical_query(pairs),
        _canonical_headers(headers, signed.signed_headers),
        ";".join(signed.signed_headers),
        body_hash,
    ])
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    string_to_sign = "\n".join([
        ALGORITHM, signed.amz_date, scope,
        hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest(),
    ])
    key = _signing_key(secret, signed.date, signed.region, signed.service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not signatures_match(expected, signed.signature):
        raise _refuse(codes.bad_signature)
    return VerifiedRequest(signed.access_key_id, signed.region, signed.service,
                           signed.signed_headers, signed.expires_s is not None,
                           signed.signature, signed.amz_date, scope, key)


_LITERAL_PAYLOAD_HASHES = {UNSIGNED_PAYLOAD}
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    """In constant time; a signature sent with characters no signature has is simply
    wrong (compare_digest refuses non-ASCII strings with a TypeError)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
