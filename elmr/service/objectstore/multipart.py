"""Multipart uploads: parts are staged files under the bucket's `.elmr/uploads/<id>/`,
recorded in the store; completing assembles the requested parts, in order, into one
staging file that is renamed into place, so the object appears whole or not at all.
The ETag is S3's: the MD5 of the parts' MD5s, then `-N`."""

import hashlib
import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import select

from elmr.service.context import ServiceContext
from elmr.service.objectstore import keys, objects, storage
from elmr.service.objectstore.errors import S3Error
from elmr.store.object_models import MultipartUpload, UploadedPart

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last, as S3 requires


def _upload_dir(ctx: ServiceContext, bucket: str, upload_id: str) -> Path:
    return keys.uploads_dir(objects.bucket_dir(ctx, bucket)) / upload_id


def _no_such_upload(upload_id: str) -> S3Error:
    return S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                   "invalid, or the upload may have been aborted or completed.", 404, UploadId=upload_id)


def require_upload(ctx: ServiceContext, bucket: str, upload_id: str) -> MultipartUpload:
    with ctx.store.transaction() as session:
        upload = session.get(MultipartUpload, upload_id)
        if upload is None or upload.bucket != bucket:
            raise _no_such_upload(upload_id)
        return upload


def create(ctx: ServiceContext, bucket: str, key: str, content_type: str | None, user_metadata: dict) -> str:
    objects.head_bucket(ctx, bucket)
    upload_id = secrets.token_urlsafe(32)
    with ctx.store.transaction() as session:
        session.add(MultipartUpload(upload_id=upload_id, bucket=bucket, key=key,
                                    content_type=content_type or objects.DEFAULT_CONTENT_TYPE,
                                    user_metadata=user_metadata, created_at=ctx.clock()))
    _upload_dir(ctx, bucket, upload_id).mkdir(parents=True, exist_ok=True)
    return upload_id


def add_part(ctx: ServiceContext, bucket: str, upload_id: str, number: int, staged: Path,
             md5_hex: str, size: int) -> UploadedPart:
    """A part sent again replaces the earlier one (a retried part)."""
    require_upload(ctx, bucket, upload_id)
    os.replace(staged, _upload_dir(ctx, bucket, upload_id) / str(number))
    with ctx.store.transaction() as session:
        part = session.get(UploadedPart, (upload_id, number)) or UploadedPart(upload_id=upload_id, part_number=number)
        part.etag, part.size, part.last_modified = md5_hex, size, ctx.clock()
        session.merge(part)
        return part


def list_parts(ctx: ServiceContext, bucket: str, upload_id: str) -> list[UploadedPart]:
    require_upload(ctx, bucket, upload_id)
    with ctx.store.transaction() as session:
        return session.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id)
                               .order_by(UploadedPart.part_number)).all()


def list_uploads(ctx: ServiceContext, bucket: str, prefix: str) -> list[MultipartUpload]:
    objects.head_bucket(ctx, bucket)
    with ctx.store.transaction() as session:
        return session.scalars(select(MultipartUpload).where(
            MultipartUpload.bucket == bucket, MultipartUpload.key.startswith(prefix))
            .order_by(MultipartUpload.key, MultipartUpload.created_at)).all()


def _checked_parts(stored: dict, requested: list[tuple[int, str]]) -> list[UploadedPart]:
    if not requested:
        raise S3Error("MalformedXML", "You must specify at least one part.", 400)
    numbers = [number for number, _ in requested]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. "
                      "Parts must be ordered by part number.", 400)
    chosen = []
    for number, etag in requested:
        part = stored.get(number)
        if part is None or (etag and etag != part.etag):
            raise S3Error("InvalidPart", "One or more of the specified parts could not be found.  "
                          "The part may not have been uploaded, or the specified entity tag may not "
                          "match the part's entity tag.", 400)
        chosen.append(part)
    if any(part.size < MIN_PART_SIZE for part in chosen[:-1]):
        raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400)
    return chosen


def complete(ctx: ServiceContext, bucket: str, key: str, upload_id: str,
             requested: list[tuple[int, str]]) -> objects.ObjectView:
    upload = require_upload(ctx, bucket, upload_id)
    stored = {part.part_number: part for part in list_parts(ctx, bucket, upload_id)}
    chosen = _checked_parts(stored, requested)
    directory = _upload_dir(ctx, bucket, upload_id)

    staged, size = storage.concatenate(objects.bucket_dir(ctx, bucket),
                                       [directory / str(part.part_number) for part in chosen])
    combined = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in chosen)).hexdigest()
    view = objects.put_object(ctx, bucket, key, staged, "", size, upload.content_type,
                              upload.user_metadata, etag=f"{combined}-{len(chosen)}")
    _forget(ctx, bucket, upload_id)
    return view


def abort(ctx: ServiceContext, bucket: str, upload_id: str) -> None:
    require_upload(ctx, bucket, upload_id)
    _forget(ctx, bucket, upload_id)


def _forget(ctx: ServiceContext, bucket: str, upload_id: str) -> None:
    with ctx.store.transaction() as session:
        for part in session.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id)):
            session.delete(part)
        upload = session.get(MultipartUpload, upload_id)
        if upload is not None:
            session.delete(upload)
    shutil.rmtree(_upload_dir(ctx, bucket, upload_id), ignore_errors=True)
