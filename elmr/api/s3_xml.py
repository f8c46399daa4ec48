"""S3's XML answers and errors (s3_requests.py reads the requests)."""

import base64
import secrets
from datetime import datetime, timezone
from urllib.parse import quote
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from elmr.objectstore.errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
OWNER = "<Owner><ID>elmr</ID><DisplayName>elmr</DisplayName></Owner>"


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


def list_buckets(buckets, prefix: str, next_token: str | None) -> Response:
    entries = "".join(f"<Bucket>{_e('Name', b.name)}{_e('CreationDate', _iso(b.created_at))}</Bucket>"
                      for b in buckets)
    extra = (_e("ContinuationToken", next_token) if next_token else "") + (_e("Prefix", prefix) if prefix else "")
    return _xml("ListAllMyBucketsResult", f"{OWNER}<Buckets>{entries}</Buckets>{extra}")


def location() -> Response:
    return _xml("LocationConstraint", "")


def versioning(status: str | None) -> Response:
    """GetBucketVersioning: no Status at all for a bucket whose versioning was never
    turned on."""
    return _xml("VersioningConfiguration", _e("Status", status) if status else "")


def tagging(tags: dict) -> Response:
    tag_set = "".join(f"<Tag>{_e('Key', key)}{_e('Value', value)}</Tag>" for key, value in tags.items())
    return _xml("Tagging", f"<TagSet>{tag_set}</TagSet>")


def owner_full_control() -> Response:
    """Get*Acl: the owner, with FULL_CONTROL, the one grant elmr has."""
    grantee = ('<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">'
               "<ID>elmr</ID><DisplayName>elmr</DisplayName></Grantee>")
    return _xml("AccessControlPolicy", f"{OWNER}<AccessControlList><Grant>{grantee}"
                f"<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>")


def _checksum_algorithm(checksum: dict | None) -> str:
    return _e("ChecksumAlgorithm", checksum["algorithm"]) + _e("ChecksumType", checksum.get("type", "FULL_OBJECT")) \
        if checksum else ""


def list_versions(bucket: str, listing, args, max_keys: int) -> Response:
    encode = _encoder(args)
    body = (_e("Name", bucket) + _e("Prefix", encode(args.get("prefix", "")))
            + _e("KeyMarker", encode(args.get("key-marker", ""))) + _e("VersionIdMarker", args.get("version-id-marker", ""))
            + _e("MaxKeys", max_keys) + _e("IsTruncated", str(listing.truncated).lower()))
    if listing.next_key_marker is not None:
        body += _e("NextKeyMarker", encode(listing.next_key_marker))
    if listing.next_version_id_marker is not None:
        body += _e("NextVersionIdMarker", listing.next_version_id_marker)
    if args.get("delimiter"):
        body += _e("Delimiter", encode(args["delimiter"]))
    if args.get("encoding-type") == "url":
        body += _e("EncodingType", "url")
    for entry in listing.entries:
        common = (_e("Key", encode(entry.key)) + _e("VersionId", entry.version_id)
                  + _e("IsLatest", str(entry.is_latest).lower()) + _e("LastModified", _iso(entry.last_modified)))
        if entry.delete_marker:
            body += f"<DeleteMarker>{common}{OWNER}</DeleteMarker>"
        else:
            body += (f"<Version>{common}{_e('ETag', chr(34) + entry.etag + chr(34))}{_e('Size', entry.size)}"
                     f"{_e('StorageClass', 'STANDARD')}{OWNER}{_checksum_algorithm(entry.checksum)}</Version>")
    body += "".join(f"<CommonPrefixes>{_e('Prefix', encode(p))}</CommonPrefixes>" for p in listing.common_prefixes)
    return _xml("ListVersionsResult", body)


def _contents(listing, encode) -> str:
    return "".join(
        f"<Contents>{_e('Key', encode(o.key))}{_e('LastModified', _iso(o.last_modified))}"
        f"{_e('ETag', chr(34) + o.etag + chr(34))}{_e('Size', o.size)}"
        f"{_e('StorageClass', 'STANDARD')}{_checksum_algorithm(o.checksum)}</Contents>" for o in listing.contents
    ) + "".join(f"<CommonPrefixes>{_e('Prefix', encode(p))}</CommonPrefixes>" for p in listing.common_prefixes)


def _encoder(args):
    """encoding-type=url (botocore asks for it): keys URL-encoded, so that keys XML
    cannot carry (NUL, other control characters) still list."""
    if args.get("encoding-type") == "url":
        return lambda text: quote(text, safe="/")
    return lambda text: text


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str | None) -> str:
    """What a continuation token names (the last key handed out); an empty token is
    refused, as S3 refuses it."""
    if token is None:
        return ""
    try:
        if not token:
            raise ValueError
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect", 400,
                      ArgumentName="continuation-token") from None


def list_v2(bucket: str, listing, args, max_keys: int) -> Response:
    encode = _encoder(args)
    body = (_e("Name", bucket) + _e("Prefix", encode(args.get("prefix", ""))) + _e("MaxKeys", max_keys)
            + _e("KeyCount", len(listing.contents) + len(listing.common_prefixes))
            + _e("IsTruncated", str(listing.truncated).lower()))
    for name in ("delimiter", "start-after", "continuation-token"):
        if args.get(name) is not None and (args[name] or name == "continuation-token"):
            tag = {"delimiter": "Delimiter", "start-after": "StartAfter",
                   "continuation-token": "ContinuationToken"}[name]
            body += _e(tag, encode(args[name]) if name != "continuation-token" else args[name])
    if args.get("encoding-type") == "url":
        body += _e("EncodingType", "url")
    if listing.truncated and listing.last_key is not None:
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
        if listing.truncated and listing.last_key is not None:
            body += _e("NextMarker", encode(listing.last_key))
    return _xml("ListBucketResult", body + _contents(listing, encode))


def deleted(outcomes: list, quiet: bool) -> Response:
    """DeleteObjects' answer: each (key, version named, what was deleted or the error
    refusing it), deleted ones listed unless quiet."""
    return _xml("DeleteResult", "".join(_delete_outcome(*outcome, quiet) for outcome in outcomes))


def _delete_outcome(key: str, version_id: str | None, outcome, quiet: bool) -> str:
    if isinstance(outcome, S3Error):
        return (f"<Error>{_e('Key', key)}{_e('VersionId', version_id) if version_id else ''}"
                f"{_e('Code', outcome.code)}{_e('Message', outcome.message)}</Error>")
    if quiet:
        return ""
    version = _e("VersionId", version_id) if version_id else ""
    if outcome.delete_marker:
        marker_id = outcome.version_id if version_id is None else version_id
        version += _e("DeleteMarker", "true") + _e("DeleteMarkerVersionId", marker_id)
    return f"<Deleted>{_e('Key', key)}{version}</Deleted>"


def upload_created(bucket: str, key: str, upload_id: str) -> Response:
    return _xml("InitiateMultipartUploadResult", _e("Bucket", bucket) + _e("Key", key) + _e("UploadId", upload_id))


def _checksum_element(checksum: dict | None) -> str:
    return _e(f"Checksum{checksum['algorithm']}", checksum["value"]) if checksum else ""


def upload_completed(bucket: str, key: str, stored) -> Response:
    checksum = stored.checksum
    return _xml("CompleteMultipartUploadResult",
                _e("Location", f"/{bucket}/{key}") + _e("Bucket", bucket) + _e("Key", key)
                + _e("ETag", f'"{stored.etag}"') + _checksum_element(checksum)
                + (_e("ChecksumType", checksum.get("type", "COMPOSITE")) if checksum else ""))


def parts(bucket: str, key: str, upload, listed) -> Response:
    body = (_e("Bucket", bucket) + _e("Key", key) + _e("UploadId", upload.upload_id) + _e("IsTruncated", "false")
            + (_e("ChecksumAlgorithm", upload.checksum_algorithm) if upload.checksum_algorithm else "")
            + (_e("ChecksumType", upload.checksum_type) if upload.checksum_type else ""))
    body += "".join(f"<Part>{_e('PartNumber', p.part_number)}{_e('LastModified', _iso(p.last_modified))}"
                    f"{_e('ETag', chr(34) + p.etag + chr(34))}{_e('Size', p.size)}{_checksum_element(p.checksum)}"
                    "</Part>" for p in listed)
    return _xml("ListPartsResult", body)


def uploads(bucket: str, listed) -> Response:
    body = _e("Bucket", bucket) + _e("IsTruncated", "false")
    body += "".join(f"<Upload>{_e('Key', u.key)}{_e('UploadId', u.upload_id)}"
                    f"{_e('Initiated', _iso(u.created_at))}</Upload>" for u in listed)
    return _xml("ListMultipartUploadsResult", body)


def copy_result(stored) -> Response:
    return _xml("CopyObjectResult", _e("LastModified", _iso(stored.last_modified)) + _e("ETag", f'"{stored.etag}"')
                + _checksum_element(stored.checksum))


def copy_part_result(part) -> Response:
    return _xml("CopyPartResult", _e("LastModified", _iso(part.last_modified)) + _e("ETag", f'"{part.etag}"')
                + _checksum_element(part.checksum))
