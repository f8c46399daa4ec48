"""The S3 REST API on elmr's port: path-style (/bucket/key) and virtual-hosted-style
(bucket.host) addressing, SigV4 header and presigned auth, S3's XML answers and errors.
Thin: which operation a request is (method, level, subresource) is a table; each
handler reads the request, calls the object store, writes the answer. The bucket
operations are here, the object ones in s3_objects.py and s3_multipart.py."""

import logging
from urllib.parse import unquote

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from elmr.api import routes, s3_multipart, s3_objects, s3_requests, s3_subresources, s3_xml, sigv2, sigv4
from elmr.api.http_request import MalformedBody
from elmr.api.s3_objects import VERIFIED_SIGNATURE
from elmr.credentials import RootCredentials
from elmr.objectstore import objects, version_listing
from elmr.objectstore.conditions import WriteCondition
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.service.errors import AuthError

log = logging.getLogger("elmr.s3")
MAX_BUCKETS_PER_PAGE = 10000


class S3Api:
    def __init__(self, ctx: StoreContext, credentials: RootCredentials):
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
            response.headers.update(error.headers)
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

    def _route(self, request: Request, bucket: str | None, key: str | None) -> Response:
        method, args = request.method, request.args
        if bucket is None:
            if method == "GET":
                return _list_buckets(self.ctx, request)
            raise _method_not_allowed()
        refused = s3_subresources.refusal(method, key is not None, args.keys())
        if refused is not None:
            raise refused
        subresource = next((name for name in _SUBRESOURCES if name in args), None)
        if key is None:
            handler = _BUCKET_OPERATIONS.get((method, subresource))
            if handler is None:
                raise _method_not_allowed()
            return handler(self.ctx, request, bucket)
        handler = _OBJECT_OPERATIONS.get((method, subresource))
        if handler is None:
            raise _method_not_allowed()
        return handler(self.ctx, request, bucket, key)


def _method_not_allowed() -> S3Error:
    return S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


def _list_buckets(ctx: StoreContext, request: Request) -> Response:
    """ListBuckets, a page at a time when asked (MaxBuckets, ContinuationToken, Prefix)."""
    args = request.args
    prefix = args.get("prefix", "")
    page_size = _bounded_int(args.get("max-buckets"), "max-buckets", MAX_BUCKETS_PER_PAGE, low=1)
    after = s3_xml.decode_token(args.get("continuation-token"))  # the last bucket of the page before
    buckets = [b for b in objects.list_buckets(ctx) if b.name.startswith(prefix) and b.name > after]
    page, more = buckets[:page_size], len(buckets) > page_size
    next_token = s3_xml.encode_token(page[-1].name) if more else None
    return s3_xml.list_buckets(page, prefix, next_token)


def _bounded_int(value: str | None, name: str, high: int, low: int = 0) -> int:
    """A count a listing takes (max-keys, max-buckets): at most `high` (larger ones
    are taken as `high`, as S3 does), never below `low`, and a number."""
    if value is None:
        return high
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if number < low:
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range", 400,
                      ArgumentName=name, ArgumentValue=value)
    return min(number, high)


def _create_bucket(ctx: StoreContext, request: Request, bucket: str) -> Response:
    if bucket in routes.RESERVED_BUCKET_NAMES:
        raise S3Error("BucketAlreadyExists", "The requested bucket name is not available: elmr keeps "
                      f"the path /{bucket}/ for itself. Please select a different name and try again.",
                      409, BucketName=bucket)
    objects.create_bucket(ctx, bucket)
    return Response(status=200, headers={"Location": f"/{bucket}"})


def _head_bucket(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.head_bucket(ctx, bucket)
    return Response(status=200, headers={"x-amz-bucket-region": "us-east-1"})


def _delete_bucket(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.delete_bucket(ctx, bucket)
    return Response(status=204)


def _location(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.head_bucket(ctx, bucket)
    return s3_xml.location()


def _get_versioning(ctx: StoreContext, request: Request, bucket: str) -> Response:
    return s3_xml.versioning(objects.head_bucket(ctx, bucket).versioning)


def _put_versioning(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.set_versioning(ctx, bucket, s3_requests.parse_versioning(request.get_data()))
    return Response(status=200)


def _get_bucket_tagging(ctx: StoreContext, request: Request, bucket: str) -> Response:
    tags = objects.head_bucket(ctx, bucket).tags
    if not tags:
        raise S3Error("NoSuchTagSet", "The TagSet does not exist", 404)
    return s3_xml.tagging(tags)


def _put_bucket_tagging(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.set_bucket_tags(ctx, bucket, s3_requests.parse_tagging(request.get_data()))
    return Response(status=204)


def _delete_bucket_tagging(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.set_bucket_tags(ctx, bucket, None)
    return Response(status=204)


def _get_bucket_acl(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.head_bucket(ctx, bucket)
    return s3_xml.owner_full_control()


def _put_bucket_acl(ctx: StoreContext, request: Request, bucket: str) -> Response:
    objects.head_bucket(ctx, bucket)
    return s3_objects.acl_answer(request)


def _list(ctx: StoreContext, request: Request, bucket: str) -> Response:
    args = request.args
    max_keys = _bounded_int(args.get("max-keys"), "max-keys", 1000)
    prefix, delimiter = args.get("prefix", ""), args.get("delimiter", "")
    if args.get("list-type") == "2":
        after = max(s3_xml.decode_token(args.get("continuation-token")), args.get("start-after", ""))
        listing = objects.list_objects(ctx, bucket, prefix, delimiter, after, max_keys)
        return s3_xml.list_v2(bucket, listing, args, max_keys)
    listing = objects.list_objects(ctx, bucket, prefix, delimiter, args.get("marker", ""), max_keys)
    return s3_xml.list_v1(bucket, listing, args, max_keys)


def _list_versions(ctx: StoreContext, request: Request, bucket: str) -> Response:
    args = request.args
    max_keys = _bounded_int(args.get("max-keys"), "max-keys", 1000)
    objects.head_bucket(ctx, bucket)
    listing = version_listing.list_versions(ctx, bucket, args.get("prefix", ""), args.get("delimiter", ""),
                                            args.get("key-marker", ""), args.get("version-id-marker", ""),
                                            max_keys)
    return s3_xml.list_versions(bucket, listing, args, max_keys)


def _delete_many(ctx: StoreContext, request: Request, bucket: str) -> Response:
    """DeleteObjects. Each key on its own: one refused (its ETag no longer matches)
    is an Error entry in the answer, and the others are still deleted."""
    objects.head_bucket(ctx, bucket)
    quiet, requested = s3_requests.parse_delete(request.get_data())
    outcomes = []
    for key, etag, version_id in requested:
        try:
            outcome = objects.delete_object(ctx, bucket, key, WriteCondition(if_match=etag), version_id)
        except S3Error as refused:
            outcome = refused
        outcomes.append((key, version_id, outcome))
    return s3_xml.deleted(outcomes, quiet)


# The query parameters that name an operation on a bucket or an object (the first
# one present decides); None is the plain operation.
_SUBRESOURCES = ("uploads", "uploadId", "versioning", "versions", "tagging", "acl", "location", "delete")
_BUCKET_OPERATIONS = {
    ("PUT", None): _create_bucket, ("HEAD", None): _head_bucket, ("DELETE", None): _delete_bucket,
    ("GET", None): _list, ("GET", "versions"): _list_versions, ("GET", "uploads"): s3_multipart.list_uploads,
    ("POST", "delete"): _delete_many, ("GET", "location"): _location,
    ("GET", "versioning"): _get_versioning, ("PUT", "versioning"): _put_versioning,
    ("GET", "tagging"): _get_bucket_tagging, ("PUT", "tagging"): _put_bucket_tagging,
    ("DELETE", "tagging"): _delete_bucket_tagging,
    ("GET", "acl"): _get_bucket_acl, ("PUT", "acl"): _put_bucket_acl,
}
_OBJECT_OPERATIONS = {
    ("PUT", None): s3_objects.put, ("GET", None): s3_objects.get, ("HEAD", None): s3_objects.get,
    ("DELETE", None): s3_objects.delete,
    ("GET", "tagging"): s3_objects.get_tagging, ("PUT", "tagging"): s3_objects.put_tagging,
    ("DELETE", "tagging"): s3_objects.delete_tagging,
    ("GET", "acl"): s3_objects.get_acl, ("PUT", "acl"): s3_objects.put_acl,
    ("POST", "uploads"): s3_multipart.create, ("PUT", "uploadId"): s3_multipart.upload_part,
    ("POST", "uploadId"): s3_multipart.complete, ("DELETE", "uploadId"): s3_multipart.abort,
    ("GET", "uploadId"): s3_multipart.list_parts,
}
