"""What S3 requests say, read: the request documents (DeleteObjects,
CompleteMultipartUpload, PutBucketVersioning, Put*Tagging, Put*Acl) and the header
grammars (Range, copy source and its conditions, GET's conditions, x-amz-tagging,
the headers an object keeps, user metadata). s3_xml.py writes the answers."""

import base64
import email.utils
import re
from datetime import datetime
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree

from elmr.objectstore.errors import S3Error
from elmr.objectstore.versions import check_version_id

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
MAX_DELETE_KEYS = 1000
MAX_TAGS = 10
# The headers an object keeps from its write and sends back with GET and HEAD.
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
# GET's query parameters that override a header of the answer (presigned downloads).
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-language": "Content-Language",
                      "response-expires": "Expires", "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}


def malformed_xml() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                   "published schema.", 400)


def _tree(document: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(document)
    except ElementTree.ParseError:
        raise malformed_xml() from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields(element) -> dict:
    return {_local(child.tag): (child.text or "").strip() for child in element}


def not_implemented_condition(header: str | None = None) -> S3Error:
    """S3's answer to a condition elmr does not have (If-None-Match other than `*` on a
    write, the directory-bucket conditions on a delete's time or size)."""
    details = {"Header": header} if header else {}
    return S3Error("NotImplemented", "A header you provided implies functionality that is not implemented",
                   501, **details)


def parse_delete(document: bytes) -> tuple[bool, list[tuple[str, str | None, str | None]]]:
    """(Quiet, [(key, the ETag it must still have, the version named; each None
    where the request gives none)]); more than 1,000 keys is MalformedXML, as S3 has it."""
    tree = _tree(document)
    quiet, requested = False, []
    for child in tree:
        if _local(child.tag) == "Quiet":
            quiet = (child.text or "").strip().lower() == "true"
        elif _local(child.tag) == "Object":
            fields = {_local(field.tag): field.text or "" for field in child}
            if "LastModifiedTime" in fields or "Size" in fields:
                raise not_implemented_condition()
            requested.append((fields.get("Key", ""), fields.get("ETag"), fields.get("VersionId")))
    if not requested or len(requested) > MAX_DELETE_KEYS:
        raise malformed_xml()
    return quiet, requested


def parse_complete(document: bytes) -> list[tuple[int, str, dict]]:
    """[(part number, ETag, {checksum header: value} the request names for the part)]."""
    parts = []
    for part in _tree(document):
        fields = _fields(part)
        checksums = {f"x-amz-checksum-{name[len('Checksum'):].lower()}": value
                     for name, value in fields.items() if name.startswith("Checksum") and name != "ChecksumType"}
        try:
            parts.append((int(fields["PartNumber"]), fields.get("ETag", "").strip('"'), checksums))
        except (KeyError, ValueError):
            raise malformed_xml() from None
    return parts


def parse_versioning(document: bytes) -> str:
    fields = _fields(_tree(document))
    if fields.get("MfaDelete") == "Enabled":
        raise not_implemented_condition("MfaDelete")
    return fields.get("Status", "")


def parse_tagging(document: bytes) -> dict:
    """A Tagging document's TagSet, {key: value}, with S3's limits."""
    tags = {}
    for tag_set in _tree(document):
        for tag in tag_set:
            fields = _fields(tag)
            if "Key" not in fields or fields["Key"] in tags:
                raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key" if fields.get("Key")
                              in tags else "The TagSet does not have a Key", 400)
            tags[fields["Key"]] = fields.get("Value", "")
    return checked_tags(tags)


def tagging_header(value: str | None) -> dict | None:
    """x-amz-tagging (`k1=v1&k2=v2`), as PutObject, CopyObject and
    CreateMultipartUpload take it."""
    if value is None:
        return None
    return checked_tags(dict(parse_qsl(value, keep_blank_values=True)))


def checked_tags(tags: dict) -> dict:
    if len(tags) > MAX_TAGS:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", 400)
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise S3Error("InvalidTag", "The TagKey you have provided is too long, max 128" if len(key) > 128
                          else "The TagValue you have provided is too long, max 256", 400)
    return tags


def acl_is_private(headers, document: bytes) -> bool:
    """Whether a Put*Acl asks for nothing but the owner's full control (canned
    `private`, or a policy granting only that): the only ACL elmr has."""
    canned = headers.get("x-amz-acl")
    if canned is not None:
        return canned in ("private", "bucket-owner-full-control") and not document.strip()
    if any(name.lower().startswith("x-amz-grant-") for name in headers.keys()):
        return False
    if not document.strip():
        return False
    grants = [element for element in _tree(document).iter() if _local(element.tag) == "Grant"]
    permissions = [(_fields(grant).get("Permission")) for grant in grants]
    return permissions == ["FULL_CONTROL"]


def copy_source(header: str) -> tuple[str, str, str | None]:
    """The source bucket, key and version of `x-amz-copy-source` (`bucket/key`,
    URL-encoded, perhaps `?versionId=` the version to copy)."""
    path, _, version = header.partition("?versionId=")
    version_id = unquote(version) if version else None
    check_version_id(version_id)
    source = unquote(path).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey", 400)
    return bucket, key, version_id


def copy_source_range(header: str | None, size: int) -> tuple[int, int]:
    """UploadPartCopy's x-amz-copy-source-range: `bytes=first-last`, both given and
    inside the source (S3 refuses what does not fit rather than reading it loosely)."""
    if header is None:
        return 0, size - 1
    match = _COPY_RANGE.match(header.strip())
    if not match:
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last "
                      "where first and last are the zero-based offsets of the first and last bytes to copy", 400,
                      ArgumentName="x-amz-copy-source-range", ArgumentValue=header)
    first, last = int(match.group(1)), int(match.group(2))
    if first > last or last >= size:
        raise S3Error("InvalidRange", f"Range specified is not valid for source object of size: {size}", 416)
    return first, last


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
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _names(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match header names `etag` (quoted or not) or is `*`."""
    tags = [tag.strip().strip('"') for tag in header.split(",")]
    return "*" in tags or etag.strip('"') in tags


def check_preconditions(headers, etag: str, last_modified: datetime, prefix: str = "") -> bool:
    """GET's and HEAD's conditions (`prefix` "x-amz-copy-source-" for a copy's source):
    raise PreconditionFailed, or return True for 304 Not Modified (as S3 orders them)."""
    modified = last_modified.replace(microsecond=0)
    if_match = headers.get(f"{prefix}If-Match")
    if if_match is not None and not _names(if_match, etag):
        raise _precondition_failed()
    unmodified_since = _parse_http_date(headers.get(f"{prefix}If-Unmodified-Since", ""))
    if if_match is None and unmodified_since and modified > unmodified_since:
        raise _precondition_failed()
    if_none_match = headers.get(f"{prefix}If-None-Match")
    if if_none_match is not None:
        return _names(if_none_match, etag)
    modified_since = _parse_http_date(headers.get(f"{prefix}If-Modified-Since", ""))
    return bool(modified_since and modified <= modified_since)


def check_copy_source_conditions(headers, etag: str, last_modified: datetime) -> None:
    """CopyObject's and UploadPartCopy's x-amz-copy-source-if-*: every one that fails
    is PreconditionFailed (a copy has no 304)."""
    if check_preconditions(headers, etag, last_modified, "x-amz-copy-source-"):
        raise _precondition_failed()


def _precondition_failed() -> S3Error:
    return S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)


def stored_headers(headers) -> dict | None:
    """The headers of a write that its object keeps (aws-chunked is how the body was
    sent, not how the object is encoded)."""
    kept = {}
    for name in STORED_HEADERS:
        value = headers.get(name)
        if name == "Content-Encoding" and value is not None:
            value = ",".join(c.strip() for c in value.split(",") if c.strip() and c.strip() != "aws-chunked")
        if value:
            kept[name] = value
    return kept or None


def user_metadata(headers) -> dict:
    """x-amz-meta-* as sent: the raw header bytes taken as UTF-8 (what clients that
    send non-ASCII metadata send), so `é` is stored as `é`."""
    return {name[len("x-amz-meta-"):].lower(): _as_utf8(value) for name, value in headers.items()
            if name.lower().startswith("x-amz-meta-")}


def _as_utf8(value: str) -> str:
    """A header value as werkzeug hands it (each byte a latin-1 character), decoded
    as UTF-8 where it is."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def header_value(text: str) -> str:
    """A stored value as an answer's header: ASCII as it is, anything else as S3 sends
    it, an RFC 2047 encoded-word (`=?UTF-8?B?…?=`)."""
    if text.isascii():
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="
