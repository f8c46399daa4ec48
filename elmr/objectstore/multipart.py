"""Multipart uploads, recorded in the store, their bytes under the bucket's
`.elmr/uploads/<id>/`.

Most clients send parts of one size (boto3: 8 MiB by default) and only the last one
shorter. So the size of the first part to arrive becomes the upload's slot size, and
each part that fits is written straight into the upload's assembly file at
(number - 1) × slot size. When the completed parts are 1..N, all of the slot size but
the last, and the file holds nothing past them, the assembly file *is* the object: it
is renamed into place, and no byte is copied. Any other part (bigger than a slot, sent again after
its slot was filled, or of unknown length) gets a file of its own, and completing
such an upload copies the chosen parts, in order, into a staging file first. Either
way the object appears whole or not at all. The ETag is S3's: the MD5 of the parts'
MD5s, then `-N`."""

import hashlib
import os
import secrets
import shutil
import threading
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import select, update

from elmr.objectstore import keys, objects, storage
from elmr.objectstore.conditions import NO_CONDITION, WriteCondition
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.store.object_models import MultipartUpload, UploadedPart

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last, as S3 requires
ASSEMBLY_FILE = "assembly"


class _SlotWriters:
    """Which slots are being written right now, in this server process. A slot has
    one writer at a time, and an upload is completed in place only when none of its
    slots is being written: a late writer would otherwise write into the object.
    (After a restart nothing is being written, so this needs no persistence.)"""

    def __init__(self):
        self._lock = threading.Lock()
        self._writing: set[tuple[str, int]] = set()
        self._sealed: set[str] = set()

    def claim(self, upload_id: str, number: int) -> bool:
        with self._lock:
            if upload_id in self._sealed or (upload_id, number) in self._writing:
                return False
            self._writing.add((upload_id, number))
            return True

    def release(self, upload_id: str, number: int) -> None:
        with self._lock:
            self._writing.discard((upload_id, number))

    def seal(self, upload_id: str) -> bool:
        """No more slot writes for this upload; False if one is under way."""
        with self._lock:
            if any(writing == upload_id for writing, _ in self._writing):
                return False
            self._sealed.add(upload_id)
            return True

    def unseal(self, upload_id: str) -> None:
        with self._lock:
            self._sealed.discard(upload_id)


_slot_writers = _SlotWriters()


def _upload_dir(ctx: StoreContext, bucket: str, upload_id: str) -> Path:
    return keys.uploads_dir(objects.bucket_dir(ctx, bucket)) / upload_id


def _no_such_upload(upload_id: str) -> S3Error:
    return S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                   "invalid, or the upload may have been aborted or completed.", 404, UploadId=upload_id)


def require_upload(ctx: StoreContext, bucket: str, upload_id: str) -> MultipartUpload:
    with ctx.store.transaction() as session:
        upload = session.get(MultipartUpload, upload_id)
        if upload is None or upload.bucket != bucket:
            raise _no_such_upload(upload_id)
        return upload


def create(ctx: StoreContext, bucket: str, key: str, attributes: objects.Attributes,
           checksum_algorithm: str | None = None, checksum_type: str | None = None) -> str:
    """A new upload; the object it completes gets `attributes` (and a checksum of
    `checksum_algorithm`, of `checksum_type`, where the upload asks for one)."""
    objects.head_bucket(ctx, bucket)
    upload_id = secrets.token_urlsafe(32)
    with ctx.store.transaction() as session:
        session.add(MultipartUpload(upload_id=upload_id, bucket=bucket, key=key,
                                    content_type=attributes.content_type or objects.DEFAULT_CONTENT_TYPE,
                                    user_metadata=attributes.user_metadata, headers=attributes.headers,
                                    tags=attributes.tags, checksum_algorithm=checksum_algorithm,
                                    checksum_type=checksum_type, created_at=ctx.clock()))
    _upload_dir(ctx, bucket, upload_id).mkdir(parents=True, exist_ok=True)
    return upload_id


def upload_part(ctx: StoreContext, bucket: str, upload_id: str, number: int, size: int | None,
                chunks: Iterable[bytes], observers=(), verify: Callable[[str, int], None] = lambda *_: None,
                checksum: Callable[[], dict | None] = lambda: None) -> UploadedPart:
    """Write a part's bytes (`size` of them, when the request says) and record it;
    `verify(md5_hex, size)` raises if the body is not what the request promised, and
    `checksum()` gives the part's checksum to keep, once it is written. A part sent
    again replaces the earlier one (a retried part)."""
    require_upload(ctx, bucket, upload_id)
    directory = _upload_dir(ctx, bucket, upload_id)
    offset = _claim_slot(ctx, upload_id, number, size)
    if offset is None:
        staged, md5_hex, written = storage.write_staged(objects.bucket_dir(ctx, bucket), chunks, observers,
                                                        verify)
        own_file = f"{number}-{secrets.token_hex(8)}"
        os.replace(staged, directory / own_file)
        return _record_part(ctx, directory, upload_id, number, md5_hex, written, own_file, checksum())
    try:
        md5_hex, written = storage.write_at(directory / ASSEMBLY_FILE, offset, size, chunks, observers)
        verify(md5_hex, written)
        return _record_part(ctx, directory, upload_id, number, md5_hex, written, None, checksum())
    finally:
        _slot_writers.release(upload_id, number)


def _claim_slot(ctx: StoreContext, upload_id: str, number: int, size: int | None) -> int | None:
    """The offset to write this part at in the assembly file, or None if it needs a
    file of its own. The first part to arrive sets the slot size."""
    if size is None:
        return None
    with ctx.store.transaction() as session:
        session.execute(update(MultipartUpload).where(MultipartUpload.upload_id == upload_id,
                                                      MultipartUpload.slot_size.is_(None))
                        .values(slot_size=size))
        slot_size = session.scalar(select(MultipartUpload.slot_size).where(MultipartUpload.upload_id == upload_id))
        recorded = session.get(UploadedPart, (upload_id, number))
    slot_filled = recorded is not None and recorded.own_file is None
    if slot_size is None or size > slot_size or slot_filled or not _slot_writers.claim(upload_id, number):
        return None
    return (number - 1) * slot_size


def _record_part(ctx: StoreContext, directory: Path, upload_id: str, number: int, md5_hex: str,
                 size: int, own_file: str | None, checksum: dict | None) -> UploadedPart:
    with ctx.store.transaction() as session:
        part = session.get(UploadedPart, (upload_id, number))
        replaced_file = part.own_file if part is not None else None
        part = part or UploadedPart(upload_id=upload_id, part_number=number)
        part.etag, part.size, part.last_modified, part.own_file = md5_hex, size, ctx.clock(), own_file
        part.checksum = checksum
        session.merge(part)
    if replaced_file is not None and replaced_file != own_file:
        (directory / replaced_file).unlink(missing_ok=True)
    return part


def list_parts(ctx: StoreContext, bucket: str, upload_id: str) -> list[UploadedPart]:
    require_upload(ctx, bucket, upload_id)
    return _parts(ctx, upload_id)


def _parts(ctx: StoreContext, upload_id: str) -> list[UploadedPart]:
    with ctx.store.transaction() as session:
        return session.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id)
                               .order_by(UploadedPart.part_number)).all()


def list_uploads(ctx: StoreContext, bucket: str, prefix: str) -> list[MultipartUpload]:
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


def complete(ctx: StoreContext, bucket: str, key: str, upload_id: str, requested: list[tuple[int, str]],
             condition: WriteCondition = NO_CONDITION,
             verify_object: Callable[[Path], None] | None = None,
             checksum_of: Callable[[MultipartUpload, list[UploadedPart]], dict | None] = lambda *_: None,
             ) -> objects.ObjectView:
    """The object from the chosen parts, if `condition` holds and `verify_object`
    (given the assembled file: a checksum of the whole object) does not raise; the
    upload goes with it. `checksum_of(upload, chosen parts)` gives the object's
    checksum to keep (and may refuse the parts). Refused (a part missing, a condition
    failed, a checksum that does not match), the upload stays as it was."""
    upload = require_upload(ctx, bucket, upload_id)
    stored = {part.part_number: part for part in _parts(ctx, upload_id)}
    chosen = _checked_parts(stored, requested)
    checksum = checksum_of(upload, chosen)
    objects.check_key(key)
    objects.check_condition(ctx, bucket, key, condition)
    directory = _upload_dir(ctx, bucket, upload_id)
    try:
        assembly = directory / ASSEMBLY_FILE
        in_place = _assembled_in_slots(upload, chosen, assembly) and _slot_writers.seal(upload_id)
        if in_place:
            staged, size = _assembly_as_staged(assembly, objects.bucket_dir(ctx, bucket))
        else:
            staged, size = storage.concatenate(objects.bucket_dir(ctx, bucket),
                                               [_extent(directory, upload, part) for part in chosen])
        if verify_object is not None:
            _verify_staged(staged, verify_object)
        combined = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in chosen)).hexdigest()
        attributes = objects.Attributes(upload.content_type, upload.user_metadata, upload.headers, checksum,
                                        upload.tags, [part.size for part in chosen])
        view = objects.put_object(ctx, bucket, key, staged, "", size, attributes,
                                  etag=f"{combined}-{len(chosen)}", condition=condition)
        if in_place:  # the object's bytes now: no part written after the unseal may reach them
            assembly.unlink()
    finally:
        _slot_writers.unseal(upload_id)
    _forget(ctx, bucket, upload_id)
    return view


def _verify_staged(staged: Path, verify_object: Callable[[Path], None]) -> None:
    try:
        verify_object(staged)
    except BaseException:
        staged.unlink(missing_ok=True)  # the parts stay: the upload can still be completed
        raise


def _assembled_in_slots(upload: MultipartUpload, chosen: list[UploadedPart], assembly: Path) -> bool:
    """Parts 1..N, all in their slots, all but the last filling them, and nothing in
    the assembly file past them (parts not chosen stay where they are)."""
    return (all(part.own_file is None for part in chosen)
            and [part.part_number for part in chosen] == list(range(1, len(chosen) + 1))
            and all(part.size == upload.slot_size for part in chosen[:-1])
            and assembly.stat().st_size == sum(part.size for part in chosen))


def _assembly_as_staged(assembly: Path, bucket_dir: Path) -> tuple[Path, int]:
    """The assembly file, whole, as a staging file: a second link to it, so that
    put_object, refusing it (a condition that no longer holds), leaves the upload its
    parts. Every part in it was fsynced when it was uploaded."""
    staged = storage.staging_file(bucket_dir)
    os.link(assembly, staged)
    return staged, assembly.stat().st_size


def _extent(directory: Path, upload: MultipartUpload, part: UploadedPart) -> storage.Extent:
    if part.own_file is not None:
        return storage.Extent(directory / part.own_file, 0, part.size)
    return storage.Extent(directory / ASSEMBLY_FILE, (part.part_number - 1) * upload.slot_size, part.size)


def abort(ctx: StoreContext, bucket: str, upload_id: str) -> None:
    require_upload(ctx, bucket, upload_id)
    _forget(ctx, bucket, upload_id)


def _forget(ctx: StoreContext, bucket: str, upload_id: str) -> None:
    with ctx.store.transaction() as session:
        for part in session.scalars(select(UploadedPart).where(UploadedPart.upload_id == upload_id)):
            session.delete(part)
        upload = session.get(MultipartUpload, upload_id)
        if upload is not None:
            session.delete(upload)
    shutil.rmtree(_upload_dir(ctx, bucket, upload_id), ignore_errors=True)
