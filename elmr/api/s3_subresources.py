"""S3 operations that a request names by a subresource in its query (`PUT
/bucket/key?tagging` is PutObjectTagging, `DELETE /bucket?policy` DeleteBucketPolicy),
read from botocore's own S3 model. The object store answers a few of them; every other
one must be refused as S3 refuses what it does not implement, not taken for the plain
operation on the same path: a PutObjectAcl taken for a PutObject would replace the
object with the request's empty body, a DeleteBucketTagging taken for a DeleteBucket
would delete the bucket."""

from functools import lru_cache

import botocore.session

from elmr.objectstore.errors import S3Error

# The subresources elmr answers, by method and level (bucket or object).
ANSWERED = frozenset({
    ("GET", "bucket", "location"), ("GET", "bucket", "list-type"), ("GET", "bucket", "uploads"),
    ("GET", "bucket", "versioning"), ("PUT", "bucket", "versioning"), ("GET", "bucket", "versions"),
    ("POST", "bucket", "delete"), ("POST", "object", "uploads"),
    ("GET", "bucket", "tagging"), ("PUT", "bucket", "tagging"), ("DELETE", "bucket", "tagging"),
    ("GET", "object", "tagging"), ("PUT", "object", "tagging"), ("DELETE", "object", "tagging"),
    ("GET", "bucket", "acl"), ("PUT", "bucket", "acl"), ("GET", "object", "acl"), ("PUT", "object", "acl"),
})


@lru_cache(maxsize=1)
def _operations_by_subresource() -> dict[tuple[str, str, str], str]:
    """(method, level, subresource) -> the operation's name, for every S3 operation
    whose request URI has a query literal (`/{Bucket}/{Key+}?tagging`)."""
    model = botocore.session.get_session().get_service_model("s3")
    found = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        if query and path.startswith("/{Bucket}"):
            level = "object" if "{Key+}" in path else "bucket"
            subresource = query.split("&")[0].split("=")[0]
            found.setdefault((http["method"], level, subresource), name)
    return found


def refusal(method: str, has_key: bool, query_names) -> S3Error | None:
    """S3's error for a request naming a subresource elmr does not answer: the
    operation it names is not implemented, or there is no such operation (`DELETE
    /bucket?uploads`)."""
    level = "object" if has_key else "bucket"
    operations = _operations_by_subresource()
    for name in query_names:
        if (method, level, name) in ANSWERED or (level, name) not in _subresources():
            continue
        operation = operations.get((method, level, name))
        if operation is None:
            return S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        return _not_implemented(operation)
    return None


@lru_cache(maxsize=1)
def _subresources() -> frozenset[tuple[str, str]]:
    return frozenset((level, name) for _, level, name in _operations_by_subresource())


def _not_implemented(operation: str) -> S3Error:
    return S3Error("NotImplemented", f"elmr's object store does not implement {operation}.", 501)
