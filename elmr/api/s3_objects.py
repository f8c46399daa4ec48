"""S3's object operations (PutObject, CopyObject, GetObject, HeadObject,
DeleteObject, the object's tagging and ACL): each reads the request, calls the object
store, writes the answer. Multipart uploads are in s3_multipart.py."""

import email.utils
from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from elmr.api import s3_body, s3_requests, s3_xml
from elmr.api.file_range import FileRange
from elmr.objectstore import objects, storage
from elmr.objectstore.conditions import WriteCondition
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.objectstore.versions import check_version_id

# Where a request's checked SigV4 signature is kept in its WSGI environ: the chunks of
# a signed aws-chunked body are checked against it as they are read.
VERIFIED_SIGNATURE = "elmr.sigv4"


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def write_condition(request: Request) -> WriteCondition:
    """A write's If-Match / If-None-Match; S3 takes only `*` for If-None-Match on a
    write, and elmr has none of DeleteObject's directory-bucket conditions."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise s3_requests.not_implemented_condition("If-None-Match")
    for header in ("x-amz-if-match-last-modified-time", "x-amz-if-match-size"):
        if header in request.headers:
            raise s3_requests.not_implemented_condition(header)
    return WriteCondition(request.headers.get("If-Match"), if_none_match is not None)


def request_body(request: Request, wanted_checksum: str | None = None) -> s3_body.RequestBody:
    return s3_body.RequestBody(request.headers, request.stream, request.content_length, request.environ,
                               request.environ.get(VERIFIED_SIGNATURE), wanted_checksum)


def attributes(request: Request, checksum: dict | None = None) -> objects.Attributes:
    """What the write's headers say of the object."""
    headers = request.headers
    return objects.Attributes(headers.get("Content-Type"), s3_requests.user_metadata(headers),
                              s3_requests.stored_headers(headers), checksum,
                              s3_requests.tagging_header(headers.get("x-amz-tagging")))


def version_headers(version_id: str | None) -> dict:
    return {"x-amz-version-id": version_id} if version_id is not None else {}


def checksum_headers(checksum: dict | None) -> dict:
    if checksum is None:
        return {}
    return {s3_body.checksum_header(checksum["algorithm"]): checksum["value"],
            "x-amz-checksum-type": checksum.get("type", "FULL_OBJECT")}


def put(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    if "x-amz-copy-source" in request.headers:
        return copy(ctx, request, bucket, key)
    objects.bucket_dir_exists(ctx, bucket)
    condition = write_condition(request)
    given = attributes(request)  # refused before the body is read, if it must be
    body = request_body(request)
    staged, md5_hex, size = storage.write_staged(objects.bucket_dir(ctx, bucket), body.chunks, body.observers(),
                                                 body.verify, sync=False)  # put_object syncs it
    checksum = body.stored_checksum()
    stored = objects.put_object(ctx, bucket, key, staged, md5_hex, size,
                                objects.Attributes(given.content_type, given.user_metadata, given.headers, checksum,
                                                   given.tags), condition=condition)
    return Response(status=200, headers={"ETag": f'"{stored.etag}"', **version_headers(stored.version_id),
                                         **checksum_headers(checksum)})


def open_copy_source(ctx: StoreContext, request: Request):
    """A copy's source as named ((bucket, key, version id or None)), its object
    (checked against the x-amz-copy-source-if-* conditions) and its file, opened."""
    named = s3_requests.copy_source(request.headers["x-amz-copy-source"])
    source, opened = objects.open_object(ctx, *named)
    try:
        s3_requests.check_copy_source_conditions(request.headers, f'"{source.etag}"', source.last_modified)
    except BaseException:
        opened.close()
        raise
    return named, source, opened


def copy(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    condition = write_condition(request)
    (source_bucket, source_key, source_version), source, opened = open_copy_source(ctx, request)
    replace = request.headers.get("x-amz-metadata-directive", "COPY") == "REPLACE"
    replace_tags = request.headers.get("x-amz-tagging-directive", "COPY") == "REPLACE"
    with FileRange(opened, 0, source.size - 1) as source_bytes:
        if (source_bucket, source_key) == (bucket, key) and not replace and source_version is None:
            raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy "
                          "an object to itself without changing the object's metadata.", 400)
        given = attributes(request)
        staged, md5_hex, size = storage.write_staged(objects.bucket_dir(ctx, bucket), source_bytes,
                                                     sync=False)  # put_object syncs it
    whole_object_checksum = source.checksum if source.checksum and source.checksum.get("type") == "FULL_OBJECT" \
        else None
    kept = objects.Attributes(
        given.content_type if replace else source.content_type,
        given.user_metadata if replace else source.user_metadata,
        given.headers if replace else source.headers,
        whole_object_checksum, given.tags if replace_tags else source.tags)
    stored = objects.put_object(ctx, bucket, key, staged, md5_hex, size, kept, condition=condition)
    headers = version_headers(stored.version_id)
    if source.version_id is not None:
        headers["x-amz-copy-source-version-id"] = source.version_id
    answer = s3_xml.copy_result(stored)
    answer.headers.update(headers)
    return answer


def get(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    """GetObject and HeadObject (of a version, of one part, of a range)."""
    version_id = request.args.get("versionId")
    check_version_id(version_id)
    found, opened = objects.open_object(ctx, bucket, key, version_id)
    try:
        status, start, end, headers = _object_answer(request, found)
    except BaseException:
        opened.close()
        raise
    # The response closes the file (werkzeug sends no body for HEAD or 304).
    return Response(FileRange(opened, start, end), status=status, headers=headers, direct_passthrough=True)


def _object_answer(request: Request, found: objects.ObjectView) -> tuple[int, int, int, dict]:
    """A GET's or HEAD's status, byte range and headers."""
    etag = f'"{found.etag}"'
    if s3_requests.check_preconditions(request.headers, etag, found.last_modified):
        return 304, 0, -1, {"ETag": etag, "Last-Modified": http_date(found.last_modified),
                            **version_headers(found.version_id)}
    headers = {"ETag": etag, "Last-Modified": http_date(found.last_modified), "Accept-Ranges": "bytes",
               "Content-Type": found.content_type, **(found.headers or {}), **version_headers(found.version_id),
               **{f"x-amz-meta-{name}": s3_requests.header_value(value)
                  for name, value in found.user_metadata.items()}}
    if found.tags:
        headers["x-amz-tagging-count"] = str(len(found.tags))
    for parameter, header in s3_requests.RESPONSE_OVERRIDES.items():
        if parameter in request.args:
            headers[header] = request.args[parameter]
    start, end, status = 0, found.size - 1, 200
    part = request.args.get("partNumber")
    if part is not None:
        start, end, parts_count = _part_range(request, found, part)
        status = 206 if parts_count else 200
        if parts_count:
            headers["x-amz-mp-parts-count"] = str(parts_count)
            headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
    elif request.headers.get("Range"):
        start, end = s3_requests.parse_range(request.headers["Range"], found.size)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
    elif request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        headers.update(checksum_headers(found.checksum))  # of the whole object only, as S3
    headers["Content-Length"] = str(max(0, end - start + 1))
    return status, start, end, headers


def _part_range(request: Request, found: objects.ObjectView, part: str) -> tuple[int, int, int | None]:
    """(first byte, last byte, parts count) of GetObject's PartNumber: a part of a
    multipart object; an object uploaded whole is its part 1."""
    if request.headers.get("Range"):
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter", 400)
    number = s3_requests.part_number(part)
    sizes = found.part_sizes or [found.size]
    if number > len(sizes):
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                      PartNumberRequested=str(number), ActualPartCount=str(len(sizes)))
    start = sum(sizes[:number - 1])
    return start, start + sizes[number - 1] - 1, len(sizes) if found.part_sizes else None


def delete(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    deleted = objects.delete_object(ctx, bucket, key, write_condition(request), request.args.get("versionId"))
    headers = version_headers(deleted.version_id)
    if deleted.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    return Response(status=204, headers=headers)


def put_tagging(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    tags = s3_requests.parse_tagging(request.get_data())
    tagged = objects.set_object_tags(ctx, bucket, key, _version(request), tags)
    return Response(status=200, headers=version_headers(tagged))


def get_tagging(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    found = objects.head_object(ctx, bucket, key, _version(request))
    answer = s3_xml.tagging(found.tags or {})
    answer.headers.update(version_headers(found.version_id))
    return answer


def delete_tagging(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    tagged = objects.set_object_tags(ctx, bucket, key, _version(request), None)
    return Response(status=204, headers=version_headers(tagged))


def get_acl(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    objects.head_object(ctx, bucket, key, _version(request))
    return s3_xml.owner_full_control()


def put_acl(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    objects.head_object(ctx, bucket, key, _version(request))
    return acl_answer(request)


def acl_answer(request: Request) -> Response:
    """Put*Acl: the owner's full control is the one ACL elmr has (ACLs are not
    enforced: there is one account); any other grant is NotImplemented."""
    if not s3_requests.acl_is_private(request.headers, request.get_data()):
        raise S3Error("NotImplemented", "elmr keeps the owner's full control as every bucket's and object's "
                      "only ACL; other grants are not implemented.", 501)
    return Response(status=200)


def _version(request: Request) -> str | None:
    version_id = request.args.get("versionId")
    check_version_id(version_id)
    return version_id
