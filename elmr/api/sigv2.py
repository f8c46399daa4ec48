"""S3's older query-string signatures (AWSAccessKeyId, Expires, Signature): what
boto3's generate_presigned_url and `aws s3 presign` produce by default for S3.
The string to sign follows botocore's HmacV1QueryAuth: method, Content-MD5,
Content-Type, Expires, the x-amz-* headers, and the resource with the
sub-resources S3 signs."""

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Callable
from urllib.parse import unquote

from botocore.auth import HmacV1Auth

from elmr.api.sigv4 import signatures_match
from elmr.service.errors import AuthError


def is_presigned_v2(query: dict) -> bool:
    return "AWSAccessKeyId" in query and "Signature" in query


def _resource(raw_path: str, pairs: list[tuple[str, str]]) -> str:
    signed = sorted((k, v) for k, v in pairs if k in HmacV1Auth.QSAOfInterest)
    if not signed:
        return raw_path
    return raw_path + "?" + "&".join(f"{k}={v}" if v else k for k, v in signed)


def verify_presigned_v2(method: str, raw_path: str, query_string: str, headers,
                        secret_for_key: Callable[[str], str | None], now: datetime) -> str:
    pairs = []
    for part in query_string.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    query = dict(pairs)
    secret = secret_for_key(query["AWSAccessKeyId"])
    if secret is None:
        raise AuthError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist "
                        "in our records.", 403)
    try:
        expires = int(query.get("Expires", "0"))
    except ValueError:
        raise AuthError("AccessDenied", "Invalid date (should be seconds since epoch)", 403) from None
    if now.timestamp() > expires:
        raise AuthError("AccessDenied", "Request has expired", 403)
    amz_headers = sorted((k.lower(), v.strip()) for k, v in headers.items() if k.lower().startswith("x-amz-"))
    string_to_sign = "\n".join([
        method.upper(), headers.get("Content-MD5", ""), headers.get("Content-Type", ""), str(expires),
        *[f"{k}:{v}" for k, v in amz_headers],
        _resource(raw_path, pairs),
    ])
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    if not signatures_match(expected, query["Signature"]):
        raise AuthError("SignatureDoesNotMatch", "The request signature we calculated does not match "
                        "the signature you provided. Check your key and signing method.", 403)
    return query["AWSAccessKeyId"]
