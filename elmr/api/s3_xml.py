"""S3's XML: answers, errors, and the request documents (DeleteObjects,
CompleteMultipartUpload); plus the small header grammars (Range, copy source,
conditional requests)."""

import base64
import email.utils
import re
import secrets
from datetime import datetime, timezone
from urllib.parse import quote, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from elmr.objectstore.errors import S3Error
from elmr.objectstore.versions import check_version_id

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _iso(moment: datetime) -> str:
    """S3's timestamps in XML: whole seconds, as its Last-Modified header has them
    (`aws s3 sync --exact-timestamps` compares a listing's time with the mtime a
    download was given from the header: milliseconds here made it download again)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _xml(root: str, body: str, status: int = 200) -> Response:
    document = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{body}</{root}>'
    return Response(document, status=status, content_type="application/xml")


def _e(tag: str, value) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def request_ids() -> dict:
    """S3's two ids of a request, sent with every answer: x-amz-request-id (16 hex
    digits) and x-amz-id-2 (the "host id")."""
    return {"x-amz-request-id": secrets.token_hex(8).upper(), "x-amz-id-2": secrets.token_urlsafe(48)}


def error(code: str, message: str, status: int, ids: dict, details: dict | None = None) -> Response:
    """Every S3 error's XML (api/s3.py sends them all from one place)."""
    extra = "".join(_e(k, v) for k, v in (details or {}).items() if v)
    document = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{_e("Code", code)}'
                f'{_e("Message", message)}{extra}{_e("RequestId", ids["x-amz-request-id"])}'
                f'{_e("HostId", ids["x-amz-id-2"])}</Error>')
    return Response(document, status=status, content_type="application/xml")


def list_buckets(buckets) -> Response:
    entries = "".join(f"<Bucket>{_e('Name', b.name)}{_e('CreationDate', _iso(b.created_at))}</Bucket>"
                      for b in buckets)
    owner = "<Owner><ID>elmr</ID><DisplayName>elmr</DisplayName></Owner>"
    return _xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")


def location() -> Response:
    return _xml("LocationConstraint", "")


def versioning_never_enabled() -> Response:
    """GetBucketVersioning's answer for a bucket whose versioning was never turned on
    (no Status at all): elmr keeps one version of each object."""
    return _xml("VersioningConfiguration", "")


def _contents(listing, encode) -> str:
    return "".join(
        f"<Contents>{_e('Key', encode(o.key))}{_e('LastModified', _iso(o.last_modified))}"
        f"{_e('ETag', chr(34) + o.etag + chr(34))}{_e('Size', o.size)}"
        f"{_e('StorageClass', 'STANDARD')}</Contents>" for o in listing.contents
    ) + "".join(f"<CommonPrefixes>{_e('Prefix', encode(p))}</CommonPrefixes>" for p in listing.common_prefixes)


def _encoder(args):
    """encoding-type=url (botocore asks for it): keys URL-encoded, so that keys XML
    cannot carry (NUL, other control characters) still list."""
    if args.get("encoding-type") == "url":
        return lambda text: quote(text, safe="/")
    return lambda text: text


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect", 400) from None


def list_v2(bucket: str, listing, args, max_keys: int) -> Response:
    encode = _encoder(args)
    body = (_e("Name", bucket) + _e("Prefix", encode(args.get("prefix", ""))) + _e("MaxKeys", max_keys)
            + _e("KeyCount", len(listing.contents) + len(listing.common_prefixes))
            + _e("IsTruncated", str(listing.truncated).lower()))
    for name in ("delimiter", "start-after", "continuation-token"):
        if args.get(name):
            tag = {"delimiter": "Delimiter", "start-after": "StartAfter",
                   "continuation-token": "ContinuationToken"}[name]
            body += _e(tag, encode(args[name]) if name != "continuation-token" else args[name])
    if args.get("encoding-type") == "url":
        body += _e("EncodingType", "url")
    if listing.truncated:
        body += _e("NextContinuationToken", encode_token(listing.last_key))
    return _xml("ListBucketResult", body + _contents(listing, encode))


def list_v1(bucket: str, listing, args, max_keys: int) -> Response:
    encode = _encoder(args)
    body = (_e("Name", bucket) + _e("Prefix", encode(args.get("prefix", "")))
            + _e("Marker", encode(args.get("marker", "")))
            + _e("MaxKeys", max_keys) + _e("IsTruncated", str(listing.truncated).lower()))
    if args.get("encoding-type") == "url":
        body += _e("EncodingType", "url")
    if args.get("delimiter"):
        body += _e("Delimiter", encode(args["delimiter"]))
        if listing.truncated:
            body += _e("NextMarker", encode(listing.last_key))
    return _xml("ListBucketResult", body + _contents(listing, encode))


def _children(document: bytes, root: str):
    try:
        tree = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema.", 400) from None
    return tree


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def not_implemented_condition(header: str | None = None) -> S3Error:
    """S3's answer to a condition elmr does not have (If-None-Match other than `*` on a
    write, the directory-bucket conditions on a delete's time or size)."""
    details = {"Header": header} if header else {}
    return S3Error("NotImplemented", "A header you provided implies functionality that is not implemented",
                   501, **details)


def parse_delete(document: bytes) -> tuple[bool, list[tuple[str, str | None, str | None]]]:
    """(Quiet, [(key, the ETag it must still have, the version named; each None
    where the request gives none)])."""
    tree = _children(document, "Delete")
    quiet, requested = False, []
    for child in tree:
        if _local(child.tag) == "Quiet":
            quiet = (child.text or "").strip().lower() == "true"
        elif _local(child.tag) == "Object":
            fields = {_local(field.tag): field.text or "" for field in child}
            if "LastModifiedTime" in fields or "Size" in fields:
                raise not_implemented_condition()
            requested.append((fields.get("Key", ""), fields.get("ETag"), fields.get("VersionId")))
    return quiet, requested


def deleted(outcomes: list[tuple[str, S3Error | None]], quiet: bool) -> Response:
    """DeleteObjects' answer: each key deleted (listed unless quiet) or refused."""
    return _xml("DeleteResult", "".join(_delete_outcome(key, refused, quiet) for key, refused in outcomes))


def _delete_outcome(key: str, refused: S3Error | None, quiet: bool) -> str:
    if refused is not None:
        return f"<Error>{_e('Key', key)}{_e('Code', refused.code)}{_e('Message', refused.message)}</Error>"
    return "" if quiet else f"<Deleted>{_e('Key', key)}</Deleted>"


def parse_complete(document: bytes) -> list[tuple[int, str]]:
    tree = _children(document, "CompleteMultipartUpload")
    parts = []
    for part in tree:
        fields = {_local(f.tag): (f.text or "").strip() for f in part}
        try:
            parts.append((int(fields["PartNumber"]), fields.get("ETag", "").strip('"')))
        except (KeyError, ValueError):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                          "validate against our published schema.", 400) from None
    return parts


def upload_created(bucket: str, key: str, upload_id: str) -> Response:
    return _xml("InitiateMultipartUploadResult", _e("Bucket", bucket) + _e("Key", key) + _e("UploadId", upload_id))


def upload_completed(bucket: str, key: str, etag: str) -> Response:
    return _xml("CompleteMultipartUploadResult",
                _e("Location", f"/{bucket}/{key}") + _e("Bucket", bucket) + _e("Key", key)
                + _e("ETag", f'"{etag}"'))


def parts(bucket: str, key: str, upload_id: str, listed) -> Response:
    body = _e("Bucket", bucket) + _e("Key", key) + _e("UploadId", upload_id) + _e("IsTruncated", "false")
    body += "".join(f"<Part>{_e('PartNumber', p.part_number)}{_e('LastModified', _iso(p.last_modified))}"
                    f"{_e('ETag', chr(34) + p.etag + chr(34))}{_e('Size', p.size)}</Part>" for p in listed)
    return _xml("ListPartsResult", body)


def uploads(bucket: str, listed) -> Response:
    body = _e("Bucket", bucket) + _e("IsTruncated", "false")
    body += "".join(f"<Upload>{_e('Key', u.key)}{_e('UploadId', u.upload_id)}"
                    f"{_e('Initiated', _iso(u.created_at))}</Upload>" for u in listed)
    return _xml("ListMultipartUploadsResult", body)


def copy_result(etag: str, last_modified: datetime) -> Response:
    return _xml("CopyObjectResult", _e("LastModified", _iso(last_modified)) + _e("ETag", f'"{etag}"'))


def copy_part_result(etag: str, last_modified: datetime) -> Response:
    return _xml("CopyPartResult", _e("LastModified", _iso(last_modified)) + _e("ETag", f'"{etag}"'))


def copy_source(header: str) -> tuple[str, str]:
    """The source bucket and key of `x-amz-copy-source` (`bucket/key`, URL-encoded,
    perhaps `?versionId=` the version to copy)."""
    path, _, version = header.partition("?versionId=")
    check_version_id(unquote(version) if version else None)
    source = unquote(path).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey", 400)
    return bucket, key


def part_number(value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = 0
    if not 1 <= number <= 10000:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400)
    return number


def parse_range(header: str, size: int) -> tuple[int, int]:
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return 0, size - 1  # S3 ignores a range it cannot parse
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise S3Error("InvalidRange", "The requested range is not satisfiable", 416)
    return start, end


def _parse_http_date(value: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def check_preconditions(request, etag: str, last_modified: datetime) -> bool:
    """Raise PreconditionFailed, or return True for 304 Not Modified (as S3 orders them)."""
    modified = last_modified.replace(microsecond=0)
    if_match = request.headers.get("If-Match")
    if if_match is not None and etag not in [t.strip() for t in if_match.split(",")] and if_match.strip() != "*":
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    unmodified_since = _parse_http_date(request.headers.get("If-Unmodified-Since", ""))
    if if_match is None and unmodified_since and modified > unmodified_since:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [t.strip() for t in if_none_match.split(",")] or if_none_match.strip() == "*"
    modified_since = _parse_http_date(request.headers.get("If-Modified-Since", ""))
    return bool(modified_since and modified <= modified_since)
