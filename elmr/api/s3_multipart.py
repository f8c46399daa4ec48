"""S3's multipart upload operations: each reads the request, calls the object
store's multipart.py, writes the answer; and the checksum a completed object keeps."""

from werkzeug.wrappers import Request, Response

from elmr.api import s3_body, s3_objects, s3_requests, s3_xml
from elmr.api.file_range import FileRange
from elmr.objectstore import multipart
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.store.object_models import MultipartUpload, UploadedPart

CHECKSUM_TYPES = ("COMPOSITE", "FULL_OBJECT")


def create(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    algorithm = request.headers.get("x-amz-checksum-algorithm")
    checksum_type = request.headers.get("x-amz-checksum-type")
    if algorithm is not None and s3_body.checksum_header(algorithm) not in s3_body.CHECKSUMS:
        raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported.", 400)
    if checksum_type is not None and (algorithm is None or checksum_type not in CHECKSUM_TYPES):
        raise S3Error("InvalidRequest", "The x-amz-checksum-type header needs x-amz-checksum-algorithm and is "
                      "COMPOSITE or FULL_OBJECT.", 400)
    if algorithm is not None and checksum_type is None:
        checksum_type = "FULL_OBJECT" if algorithm.upper() == "CRC64NVME" else "COMPOSITE"  # S3's defaults
    upload_id = multipart.create(ctx, bucket, key, s3_objects.attributes(request),
                                 algorithm.upper() if algorithm else None, checksum_type)
    answer = s3_xml.upload_created(bucket, key, upload_id)
    if algorithm is not None:
        answer.headers.update({"x-amz-checksum-algorithm": algorithm.upper(), "x-amz-checksum-type": checksum_type})
    return answer


def upload_part(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    upload_id = request.args["uploadId"]
    part_number = s3_requests.part_number(request.args.get("partNumber"))
    if "x-amz-copy-source" in request.headers:
        return _upload_part_copy(ctx, request, bucket, upload_id, part_number)
    upload = multipart.require_upload(ctx, bucket, upload_id)
    body = s3_objects.request_body(request, upload.checksum_algorithm)
    part = multipart.upload_part(ctx, bucket, upload_id, part_number, body.size, body.chunks, body.observers(),
                                 body.verify, body.stored_checksum)
    return Response(status=200, headers={"ETag": f'"{part.etag}"', **_part_checksum_headers(part.checksum)})


def _part_checksum_headers(checksum: dict | None) -> dict:
    return {s3_body.checksum_header(checksum["algorithm"]): checksum["value"]} if checksum else {}


def _upload_part_copy(ctx: StoreContext, request: Request, bucket: str, upload_id: str, part_number: int):
    multipart.require_upload(ctx, bucket, upload_id)
    _source, found, opened = s3_objects.open_copy_source(ctx, request)
    with opened:
        start, end = s3_requests.copy_source_range(request.headers.get("x-amz-copy-source-range"), found.size)
        part = multipart.upload_part(ctx, bucket, upload_id, part_number, end - start + 1,
                                     FileRange(opened, start, end))
    answer = s3_xml.copy_part_result(part)
    if found.version_id is not None:
        answer.headers["x-amz-copy-source-version-id"] = found.version_id
    return answer


def complete(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    requested = s3_requests.parse_complete(request.get_data())
    named_checksums = {number: checksums for number, _etag, checksums in requested}
    whole = _whole_object_checksum(request.headers)

    def checksum_of(upload: MultipartUpload, chosen: list[UploadedPart]) -> dict | None:
        return _object_checksum(upload, chosen, named_checksums, whole)

    stored = multipart.complete(ctx, bucket, key, request.args["uploadId"],
                                [(number, etag) for number, etag, _ in requested],
                                s3_objects.write_condition(request), s3_body.full_object_check(request.headers),
                                checksum_of)
    answer = s3_xml.upload_completed(bucket, key, stored)
    answer.headers.update(s3_objects.version_headers(stored.version_id))
    return answer


def _whole_object_checksum(headers) -> dict | None:
    """The checksum of the whole object a completion sends (verified against the
    assembled object by s3_body.full_object_check)."""
    for name in s3_body.FULL_OBJECT_CHECKSUMS:
        value = headers.get(name)
        if value and "-" not in value:
            return {"algorithm": name[len("x-amz-checksum-"):].upper(), "value": value, "type": "FULL_OBJECT"}
    return None


def _object_checksum(upload: MultipartUpload, chosen: list[UploadedPart], named: dict, whole: dict | None,
                     ) -> dict | None:
    """The checksum the completed object keeps: of the whole object when the
    completion sends one, else of its parts (COMPOSITE) when the upload asked for an
    algorithm and every part has one. A part checksum the completion names must be
    the one the part was uploaded with (InvalidPart)."""
    for part in chosen:
        for header, value in named.get(part.part_number, {}).items():
            kept = part.checksum
            if kept is not None and s3_body.checksum_header(kept["algorithm"]) == header and kept["value"] != value:
                raise S3Error("InvalidPart", "One or more of the specified parts could not be found.  The part "
                              "may not have been uploaded, or the specified entity tag may not match the part's "
                              "entity tag.", 400)
    if whole is not None:
        return whole
    algorithm = upload.checksum_algorithm
    values = [part.checksum["value"] for part in chosen if part.checksum and part.checksum["algorithm"] == algorithm]
    if algorithm is None or upload.checksum_type != "COMPOSITE" or len(values) != len(chosen):
        return None
    return {"algorithm": algorithm, "value": s3_body.composite_checksum(algorithm, values), "type": "COMPOSITE"}


def abort(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    multipart.abort(ctx, bucket, request.args["uploadId"])
    return Response(status=204)


def list_parts(ctx: StoreContext, request: Request, bucket: str, key: str) -> Response:
    upload_id = request.args["uploadId"]
    upload = multipart.require_upload(ctx, bucket, upload_id)
    return s3_xml.parts(bucket, key, upload, multipart.list_parts(ctx, bucket, upload_id))


def list_uploads(ctx: StoreContext, request: Request, bucket: str) -> Response:
    return s3_xml.uploads(bucket, multipart.list_uploads(ctx, bucket, request.args.get("prefix", "")))
