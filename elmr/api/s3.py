"""The S3 REST API on elmr's port: path-style (/bucket/key) and virtual-hosted-style
(bucket.host) addressing, SigV4 header and presigned auth, S3's XML answers and errors.
Thin: each handler reads the request, calls the object store, writes the answer."""

import email.utils
import logging
from datetime import datetime, timezone
from urllib.parse import unquote

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from elmr.api import routes, s3_body, s3_subresources, s3_xml, sigv2, sigv4
from elmr.api.file_range import FileRange
from elmr.api.http_request import MalformedBody
from elmr.credentials import RootCredentials
from elmr.objectstore import multipart, objects, storage
from elmr.objectstore.conditions import WriteCondition
from elmr.objectstore.errors import S3Error
from elmr.objectstore.versions import check_version_id
from elmr.service.context import ServiceContext
from elmr.service.errors import AuthError

log = logging.getLogger("elmr.s3")
# Where a request's checked SigV4 signature is kept in its WSGI environ: the chunks of
# a signed aws-chunked body are checked against it as they are read.
VERIFIED_SIGNATURE = "elmr.sigv4"


def _http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def _write_condition(request: Request) -> WriteCondition:
    """A write's If-Match / If-None-Match; S3 takes only `*` for If-None-Match on a
    write, and elmr has none of DeleteObject's directory-bucket conditions."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise s3_xml.not_implemented_condition("If-None-Match")
    for header in ("x-amz-if-match-last-modified-time", "x-amz-if-match-size"):
        if header in request.headers:
            raise s3_xml.not_implemented_condition(header)
    return WriteCondition(request.headers.get("If-Match"), if_none_match is not None)


def _request_body(request: Request) -> s3_body.RequestBody:
    return s3_body.RequestBody(request.headers, request.stream, request.content_length, request.environ,
                               request.environ.get(VERIFIED_SIGNATURE))


def _user_metadata(request: Request) -> dict:
    return {k[len("x-amz-meta-"):].lower(): v for k, v in request.headers.items()
            if k.lower().startswith("x-amz-meta-")}


class S3Api:
    def __init__(self, ctx: ServiceContext, credentials: RootCredentials):
        self.ctx = ctx
        self.credentials = credentials

    def __call__(self, request: Request) -> Response:
        """Every S3 answer, errors included, carries S3's request ids; every error
        leaves as S3's XML from here, whatever raised it."""
        ids = s3_xml.request_ids()
        bucket, key = None, None
        try:
            self._authenticate(request)
            bucket, key = self._address(request)
            response = self._route(request, bucket, key)
        except AuthError as refused:
            response = s3_xml.error(refused.code, refused.message, refused.http_status, ids)
        except S3Error as error:
            details = {"BucketName": bucket, "Key": key, **error.details}
            response = s3_xml.error(error.code, error.message, error.status, ids, details)
        except MalformedBody as bad:
            response = s3_xml.error(bad.code, bad.message, 400, ids)
        except TimeoutError:
            response = s3_xml.error("RequestTimeout", "Your socket connection to the server was not read from "
                                    "or written to within the timeout period. Idle connections will be closed.",
                                    400, ids)
        except HTTPException as error:
            response = s3_xml.error("InvalidRequest", error.description or str(error), error.code or 400, ids)
        except Exception:
            log.exception("unhandled error answering S3 %s %s (request %s)", request.method, request.path,
                          ids["x-amz-request-id"])
            response = s3_xml.error("InternalError", "We encountered an internal error. Please try again.",
                                    500, ids)
        response.headers.update(ids)
        return response

    def _authenticate(self, request: Request) -> None:
        path = routes.raw_path(request)
        query_string = request.query_string.decode(errors="replace")
        if sigv2.is_presigned_v2(request.args):
            sigv2.verify_presigned_v2(request.method, path, query_string, request.headers,
                                      self.credentials.secret_for, self.ctx.clock())
            return
        content_sha = request.headers.get("X-Amz-Content-SHA256")
        request.environ[VERIFIED_SIGNATURE] = sigv4.verify_request(
            method=request.method, raw_path=path, query_string=query_string, headers=request.headers,
            payload_sha256=None if content_sha else sigv4.payload_hash(b""),
            secret_for_key=self.credentials.secret_for, now=self.ctx.clock(), protocol="s3",
        )

    def _address(self, request: Request) -> tuple[str | None, str | None]:
        path = unquote(routes.raw_path(request))
        bucket = routes.virtual_hosted_bucket(request.host)
        if bucket is not None:
            return bucket, path[1:] or None
        bucket, _, key = path[1:].partition("/")
        return bucket or None, key or None

    def _route(self, request: Request, bucket, key) -> Response:
        method, args = request.method, request.args
        if bucket is None:
            if method == "GET":
                return s3_xml.list_buckets(objects.list_buckets(self.ctx))
            raise S3Error("MethodNotAllowed", "The specified method is not allowed.", 405)
        refused = s3_subresources.refusal(method, key is not None, args.keys())
        if refused is not None:
            raise refused
        if key is None:
            return self._bucket(request, bucket)
        check_version_id(args.get("versionId"))
        if "uploadId" in args or "uploads" in args:
            return self._multipart(request, bucket, key)
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                return self._copy(request, bucket, key)
            return self._put(request, bucket, key)
        if method in ("GET", "HEAD"):
            return self._get(request, bucket, key, head=method == "HEAD")
        if method == "DELETE":
            objects.delete_object(self.ctx, bucket, key, _write_condition(request))
            return Response(status=204)
        raise S3Error("MethodNotAllowed", "The specified method is not allowed.", 405)

    def _bucket(self, request: Request, bucket: str) -> Response:
        method, args = request.method, request.args
        if method == "PUT":
            if bucket in routes.RESERVED_BUCKET_NAMES:
                raise S3Error("BucketAlreadyExists", "The requested bucket name is not available: elmr keeps "
                              f"the path /{bucket}/ for itself. Please select a different name and try again.",
                              409, BucketName=bucket)
            objects.create_bucket(self.ctx, bucket)
            return Response(status=200, headers={"Location": f"/{bucket}"})
        if method == "HEAD":
            objects.head_bucket(self.ctx, bucket)
            return Response(status=200)
        if method == "DELETE":
            objects.delete_bucket(self.ctx, bucket)
            return Response(status=204)
        if method == "POST" and "delete" in args:
            return self._delete_many(request, bucket)
        if method == "GET" and "location" in args:
            objects.head_bucket(self.ctx, bucket)
            return s3_xml.location()
        if method == "GET" and "versioning" in args:
            objects.head_bucket(self.ctx, bucket)
            return s3_xml.versioning_never_enabled()
        if method == "GET" and "uploads" in args:
            return s3_xml.uploads(bucket, multipart.list_uploads(self.ctx, bucket, args.get("prefix", "")))
        if method == "GET":
            return self._list(request, bucket)
        raise S3Error("MethodNotAllowed", "The specified method is not allowed.", 405)

    def _list(self, request: Request, bucket: str) -> Response:
        args = request.args
        try:
            max_keys = min(int(args.get("max-keys", 1000)), 1000)
        except ValueError:
            raise S3Error("InvalidArgument", "max-keys must be an integer.", 400) from None
        prefix, delimiter = args.get("prefix", ""), args.get("delimiter", "")
        if args.get("list-type") == "2":
            after = max(s3_xml.decode_token(args.get("continuation-token", "")), args.get("start-after", ""))
            listing = objects.list_objects(self.ctx, bucket, prefix, delimiter, after, max_keys)
            return s3_xml.list_v2(bucket, listing, args, max_keys)
        listing = objects.list_objects(self.ctx, bucket, prefix, delimiter, args.get("marker", ""), max_keys)
        return s3_xml.list_v1(bucket, listing, args, max_keys)

    def _delete_many(self, request: Request, bucket: str) -> Response:
        """Each key on its own: one refused (its ETag no longer matches) is an Error
        entry in the answer, and the others are still deleted."""
        objects.head_bucket(self.ctx, bucket)
        quiet, requested = s3_xml.parse_delete(request.get_data())
        outcomes = []
        for key, etag, version_id in requested:
            try:
                check_version_id(version_id)
                objects.delete_object(self.ctx, bucket, key, WriteCondition(if_match=etag))
                outcomes.append((key, None))
            except S3Error as refused:
                outcomes.append((key, refused))
        return s3_xml.deleted(outcomes, quiet)

    def _staged_body(self, request: Request, bucket: str):
        """The body decoded into a staging file, verified; (path, md5 hex, size)."""
        body = _request_body(request)
        return storage.write_staged(objects.bucket_dir(self.ctx, bucket), body.chunks, body.observers(),
                                    body.verify, sync=False)  # put_object syncs it

    def _put(self, request: Request, bucket: str, key: str) -> Response:
        objects.bucket_dir_exists(self.ctx, bucket)
        condition = _write_condition(request)
        staged, md5_hex, size = self._staged_body(request, bucket)
        stored = objects.put_object(self.ctx, bucket, key, staged, md5_hex, size,
                                    request.headers.get("Content-Type"), _user_metadata(request),
                                    condition=condition)
        return Response(status=200, headers={"ETag": f'"{stored.etag}"'})

    def _copy(self, request: Request, bucket: str, key: str) -> Response:
        condition = _write_condition(request)
        source_bucket, source_key = s3_xml.copy_source(request.headers["x-amz-copy-source"])
        source, opened = objects.open_object(self.ctx, source_bucket, source_key)
        replace = request.headers.get("x-amz-metadata-directive", "COPY") == "REPLACE"
        with FileRange(opened, 0, source.size - 1) as source_bytes:
            if source_bucket == bucket and source_key == key and not replace:
                raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy "
                              "an object to itself without changing the object's metadata.", 400)
            staged, md5_hex, size = storage.write_staged(objects.bucket_dir(self.ctx, bucket), source_bytes,
                                                         sync=False)  # put_object syncs it
        content_type = request.headers.get("Content-Type") if replace else source.content_type
        metadata = _user_metadata(request) if replace else source.user_metadata
        stored = objects.put_object(self.ctx, bucket, key, staged, md5_hex, size, content_type, metadata,
                                    condition=condition)
        return s3_xml.copy_result(stored.etag, stored.last_modified)

    def _get(self, request: Request, bucket: str, key: str, head: bool) -> Response:
        found, opened = objects.open_object(self.ctx, bucket, key)
        try:
            status, start, end, headers = self._object_answer(request, found, head)
        except BaseException:
            opened.close()
            raise
        # The response closes the file (werkzeug sends no body for HEAD or 304).
        response = Response(FileRange(opened, start, end), status=status, headers=headers,
                            direct_passthrough=True)
        if status != 304:
            response.headers["Content-Type"] = found.content_type
        return response

    def _object_answer(self, request: Request, found: objects.ObjectView, head: bool) -> tuple[int, int, int, dict]:
        """A GET's or HEAD's status, byte range and headers."""
        etag = f'"{found.etag}"'
        if s3_xml.check_preconditions(request, etag, found.last_modified):
            return 304, 0, -1, {"ETag": etag}
        headers = {"ETag": etag, "Last-Modified": _http_date(found.last_modified),
                   "Accept-Ranges": "bytes", "Content-Type": found.content_type,
                   **{f"x-amz-meta-{k}": v for k, v in found.user_metadata.items()}}
        start, end, status = 0, found.size - 1, 200
        byte_range = request.headers.get("Range")
        if byte_range and not head:
            start, end = s3_xml.parse_range(byte_range, found.size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
        headers["Content-Length"] = str(max(0, end - start + 1) if not head else found.size)
        return status, start, end, headers

    def _multipart(self, request: Request, bucket: str, key: str) -> Response:
        method, args = request.method, request.args
        if method == "POST" and "uploads" in args:
            upload_id = multipart.create(self.ctx, bucket, key, request.headers.get("Content-Type"),
                                         _user_metadata(request))
            return s3_xml.upload_created(bucket, key, upload_id)
        upload_id = args["uploadId"]
        if method == "PUT":
            part_number = s3_xml.part_number(args.get("partNumber"))
            if "x-amz-copy-source" in request.headers:
                source_bucket, source_key = s3_xml.copy_source(request.headers["x-amz-copy-source"])
                source, opened = objects.open_object(self.ctx, source_bucket, source_key)
                with opened:
                    start, end = 0, source.size - 1
                    if request.headers.get("x-amz-copy-source-range"):
                        start, end = s3_xml.parse_range(request.headers["x-amz-copy-source-range"], source.size)
                    part = multipart.upload_part(self.ctx, bucket, upload_id, part_number, end - start + 1,
                                                 FileRange(opened, start, end))
                return s3_xml.copy_part_result(part.etag, part.last_modified)
            body = _request_body(request)
            part = multipart.upload_part(self.ctx, bucket, upload_id, part_number, body.size, body.chunks,
                                         body.observers(), body.verify)
            return Response(status=200, headers={"ETag": f'"{part.etag}"'})
        if method == "POST":
            requested = s3_xml.parse_complete(request.get_data())
            stored = multipart.complete(self.ctx, bucket, key, upload_id, requested, _write_condition(request),
                                        s3_body.full_object_check(request.headers))
            return s3_xml.upload_completed(bucket, key, stored.etag)
        if method == "DELETE":
            multipart.abort(self.ctx, bucket, upload_id)
            return Response(status=204)
        if method == "GET":
            return s3_xml.parts(bucket, key, upload_id, multipart.list_parts(self.ctx, bucket, upload_id))
        raise S3Error("MethodNotAllowed", "The specified method is not allowed.", 405)
