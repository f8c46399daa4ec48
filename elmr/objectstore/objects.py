"""Buckets and objects: S3's semantics over the files of storage.py and the rows of
object_models.py. What Spark wrote through s3:// has no row yet; it gets one (ETag
and size from the file) the first time it is listed or read."""

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, bindparam, func, insert, select, update

from elmr.objectstore import conditions, keys, storage
from elmr.objectstore.conditions import NO_CONDITION, WriteCondition
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.store.object_models import Bucket, StoredObject

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def buckets_root(data_dir: Path) -> Path:
    """Where every bucket's directory is: what s3:// paths resolve to on the nodes."""
    return Path(data_dir) / "buckets"


def bucket_dir(ctx: StoreContext, bucket: str) -> Path:
    return buckets_root(ctx.data_dir) / bucket


def _no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def _require_bucket(session, bucket: str) -> Bucket:
    found = session.get(Bucket, bucket)
    if found is None:
        raise _no_such_bucket(bucket)
    return found


def create_bucket(ctx: StoreContext, bucket: str) -> None:
    if not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket)
    with ctx.store.transaction() as session:
        if session.get(Bucket, bucket) is not None:
            raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named "
                          "bucket succeeded and you already own it.", 409, BucketName=bucket)
        session.add(Bucket(name=bucket, created_at=ctx.clock()))
        keys.staging_dir(bucket_dir(ctx, bucket)).mkdir(parents=True, exist_ok=True)


def head_bucket(ctx: StoreContext, bucket: str) -> None:
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket)


def bucket_dir_exists(ctx: StoreContext, bucket: str) -> None:
    """NoSuchBucket unless the bucket's directory is there: a check without a
    transaction, before a body is staged; the store stays the authority when the
    object is recorded."""
    if not _BUCKET_NAME.match(bucket) or not keys.staging_dir(bucket_dir(ctx, bucket)).is_dir():
        raise _no_such_bucket(bucket)


def list_buckets(ctx: StoreContext) -> list[Bucket]:
    with ctx.store.transaction() as session:
        return session.scalars(select(Bucket).order_by(Bucket.name)).all()


def bucket_names(ctx: StoreContext) -> list[str]:
    return [b.name for b in list_buckets(ctx)]


def delete_bucket(ctx: StoreContext, bucket: str) -> None:
    """Only an empty bucket (in-progress uploads are aborted with it, as in S3)."""
    if list_objects(ctx, bucket, max_keys=1).contents:
        raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                      BucketName=bucket)
    with ctx.store.transaction() as session:
        session.delete(_require_bucket(session, bucket))
    directory = bucket_dir(ctx, bucket)
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()


def _path_at(directory: Path, key: str, location: str) -> Path | None:
    """Where the key's file is at `location` ("plain" or "encoded"); None if it
    cannot be plain."""
    return keys.plain_path(directory, key) if location == "plain" else keys.encoded_path(directory, key)


def _file_of(ctx: StoreContext, bucket: str, key: str, recorded_location: str | None) -> tuple[Path, str] | None:
    directory = bucket_dir(ctx, bucket)
    candidates = []
    if recorded_location is not None:
        candidates.append(recorded_location)
    candidates += [loc for loc in ("plain", "encoded") if loc not in candidates]
    for location in candidates:
        path = _path_at(directory, key, location)
        if path is not None and path.is_file():
            return path, location
    return None


def _fresh_row(session, bucket: str, key: str, path: Path, location: str, row: StoredObject | None):
    """The row for a file, filled in or refreshed when the file changed under it."""
    file_stat = path.stat()
    if row is not None and row.file_mtime_ns == file_stat.st_mtime_ns and row.size == file_stat.st_size:
        return row
    if row is None:
        row = StoredObject(bucket=bucket, key=key, content_type=DEFAULT_CONTENT_TYPE, user_metadata={})
        session.add(row)
    row.etag, row.size, row.location = storage.file_md5(path), file_stat.st_size, location
    row.last_modified = datetime.fromtimestamp(file_stat.st_mtime, timezone.utc)
    row.file_mtime_ns = file_stat.st_mtime_ns
    return row


@dataclass
class ObjectView:
    key: str
    etag: str
    size: int
    content_type: str
    user_metadata: dict
    last_modified: datetime
    path: Path
    mtime_ns: int  # the file's, when these were recorded: a file with another is not this object


def _view(row, path: Path) -> ObjectView:
    """From a StoredObject, or a Core row of its columns."""
    return ObjectView(row.key, row.etag, row.size, row.content_type, dict(row.user_metadata),
                      row.last_modified, path, row.file_mtime_ns)


def head_object(ctx: StoreContext, bucket: str, key: str) -> ObjectView:
    """The object's metadata and file. Most objects have a row that matches their file:
    one Core query answers (a GET of a small object spent half its server time in two
    ORM lookups). A file without a row, or changed under it, takes the path that writes."""
    with ctx.store.core_transaction() as connection:
        found = connection.execute(_BUCKET_AND_OBJECT_ROW, {"b_bucket": bucket, "b_key": key}).first()
    if found is None:
        raise _no_such_bucket(bucket)
    if found.location is not None:
        view = _view_if_unchanged(ctx, found)
        if view is not None:
            return view
    return _head_object_recording(ctx, bucket, key)


# Lookups an open_object makes before giving up on an object rewritten under it.
_OPEN_ATTEMPTS = 5


def open_object(ctx: StoreContext, bucket: str, key: str) -> tuple[ObjectView, BinaryIO]:
    """The object's metadata and its file, opened: what is read from the handle is the
    object the metadata describes, even if a PUT replaces the object meanwhile (the
    handle keeps the file it opened). Opened by path after the lookup, the file could
    already be the next object: its bytes would go out under the old ETag and length.
    A file replaced between the lookup and the open is looked up again."""
    for _ in range(_OPEN_ATTEMPTS):
        view = head_object(ctx, bucket, key)
        try:
            handle = open(view.path, "rb")  # noqa: SIM115 (the caller gets it, and closes it)
        except FileNotFoundError:
            continue  # replaced or deleted in between: the next lookup says which
        file_stat = os.fstat(handle.fileno())
        if (file_stat.st_size, file_stat.st_mtime_ns) == (view.size, view.mtime_ns):
            return view, handle
        handle.close()
    raise S3Error("SlowDown", "Please reduce your request rate.", 503, Key=key)


def _view_if_unchanged(ctx: StoreContext, row) -> ObjectView | None:
    """The view of a recorded object whose file is still the one recorded, else None."""
    path = _path_at(bucket_dir(ctx, row.bucket), row.key, row.location)
    try:
        file_stat = path.stat() if path is not None else None
    except OSError:
        return None
    if (file_stat is None or not stat.S_ISREG(file_stat.st_mode)
            or (file_stat.st_size, file_stat.st_mtime_ns) != (row.size, row.file_mtime_ns)):
        return None
    return _view(row, path)


def _head_object_recording(ctx: StoreContext, bucket: str, key: str) -> ObjectView:
    """head_object for a file the store has no up-to-date row of: the row is written
    (or removed, if the file went away). A writer of the key like put_object: a PUT
    that has placed its file but not yet recorded it is waited for."""
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket)
        _one_writer_of_the_key(session.connection(), bucket, key)
        row = session.get(StoredObject, (bucket, key))
        found = _file_of(ctx, bucket, key, row.location if row else None)
        if found is None:
            if row is not None:
                session.delete(row)  # the file went away (deleted through Spark)
            raise S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)
        path, location = found
        return _view(_fresh_row(session, bucket, key, path, location, row), path)


def check_condition(ctx: StoreContext, bucket: str, key: str, condition: WriteCondition) -> None:
    """Whether `condition` holds now, before a costly write that put_object will check
    it for again (a multipart completion's assembly)."""
    if condition:
        try:
            etag = head_object(ctx, bucket, key).etag
        except S3Error as missing:
            if missing.code != "NoSuchKey":
                raise
            etag = None
        condition.check(etag)


def check_key(key: str) -> None:
    """S3's KeyTooLongError for a key no object may have."""
    try:
        keys.check_key(key)
    except keys.InvalidKey as invalid:
        raise S3Error("KeyTooLongError", str(invalid), 400, Key=key) from None


def put_bytes(ctx: StoreContext, bucket: str, key: str, data: bytes, content_type: str | None = None) -> ObjectView:
    """Store `data` as `key` in one call (what the server itself writes: a node's
    logs under an s3:// LogUri). NoSuchBucket, and nothing written, unless the bucket
    exists."""
    bucket_dir_exists(ctx, bucket)
    staged, md5_hex, size = storage.write_staged(bucket_dir(ctx, bucket), [data], sync=False)
    return put_object(ctx, bucket, key, staged, md5_hex, size, content_type, {})


def put_object(ctx: StoreContext, bucket: str, key: str, staged: Path, md5_hex: str, size: int,
               content_type: str | None, user_metadata: dict, etag: str | None = None,
               condition: WriteCondition = NO_CONDITION) -> ObjectView:
    """Place a staged file as `key` and record it (etag: multipart's own), if
    `condition` holds for the object there. The file is made durable here, in the
    background while the transaction begins and looks up the key, and before it is
    renamed into place. The staged file is gone when this returns or raises."""
    try:
        check_key(key)
    except S3Error:
        staged.unlink(missing_ok=True)
        raise
    synced = storage.sync_in_background(staged)
    try:
        with ctx.store.core_transaction() as connection:
            return _record_put(ctx, connection, bucket, key, staged, synced, md5_hex, size, content_type,
                               user_metadata, etag, condition)
    finally:
        staged.unlink(missing_ok=True)  # placed already, unless recording failed


# put_object's and head_object's statements, built once: plain Core on the tables
# (not the ORM's get-then-flush, which was most of the server's CPU time for a small
# PUT), and compiled once since the same statement objects come back with new parameters.
_objects_table, _buckets_table = StoredObject.__table__, Bucket.__table__
_OBJECT_KEY = (_objects_table.c.bucket == bindparam("b_bucket"), _objects_table.c.key == bindparam("b_key"))
# One query for both: a row if the bucket exists, its object's columns None if the key is new.
_BUCKET_AND_OBJECT_ROW = (
    select(_buckets_table.c.name.label("bucket_name"), *_objects_table.c)
    .select_from(_buckets_table.outerjoin(_objects_table, and_(_objects_table.c.bucket == _buckets_table.c.name,
                                                               *_OBJECT_KEY)))
    .where(_buckets_table.c.name == bindparam("b_bucket"))
)
_INSERT_OBJECT = insert(_objects_table)
_UPDATE_OBJECT = update(_objects_table).where(*_OBJECT_KEY)


def _one_writer_of_the_key(connection, bucket: str, key: str) -> None:
    """From here to the commit, other writers of the key wait: what the transaction
    looked up (the recorded row, a condition's ETag) still holds when it places the
    file. SQLite's BEGIN IMMEDIATE already lets one writer in at a time; PostgreSQL
    gets a transaction-scoped advisory lock on the key."""
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", errors="surrogatepass")).digest()
        connection.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def _record_put(ctx, connection, bucket, key, staged, synced, md5_hex, size, content_type, user_metadata, etag,
                condition: WriteCondition):
    """put_object's unit of work: the file moved into place and its row written."""
    object_key = {"b_bucket": bucket, "b_key": key}
    _one_writer_of_the_key(connection, bucket, key)
    found = connection.execute(_BUCKET_AND_OBJECT_ROW, object_key).first()
    if found is None:
        raise _no_such_bucket(bucket)
    old_location = found.location
    old_file = _file_of(ctx, bucket, key, old_location)
    if condition:
        condition.check(conditions.current_etag(found, old_file[0] if old_file else None))
    synced.result()  # on the disk before it becomes the object
    written = storage.place(bucket_dir(ctx, bucket), key, staged, _mtime_ns(old_file[0]) if old_file else None)
    if old_file is not None and old_file[0] != written.path:
        storage.remove(bucket_dir(ctx, bucket), old_file[0])
    last_modified = datetime.fromtimestamp(written.mtime_ns / 1e9, timezone.utc)
    values = dict(etag=etag or md5_hex, size=size, location=written.location,
                  content_type=content_type or DEFAULT_CONTENT_TYPE, user_metadata=user_metadata,
                  last_modified=last_modified, file_mtime_ns=written.mtime_ns)
    if old_location is None:
        connection.execute(_INSERT_OBJECT, {"bucket": bucket, "key": key, **values})
    else:
        connection.execute(_UPDATE_OBJECT, {**object_key, **values})
    return ObjectView(key, values["etag"], size, values["content_type"], dict(user_metadata), last_modified,
                      written.path, written.mtime_ns)


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def delete_object(ctx: StoreContext, bucket: str, key: str, condition: WriteCondition = NO_CONDITION) -> None:
    """Idempotent, as in S3: deleting a missing key succeeds (unless `condition`
    asks for an object there)."""
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket)
        _one_writer_of_the_key(session.connection(), bucket, key)
        row = session.get(StoredObject, (bucket, key))
        found = _file_of(ctx, bucket, key, row.location if row else None)
        if condition:
            condition.check(conditions.current_etag(row, found[0] if found else None))
        if found is not None:
            storage.remove(bucket_dir(ctx, bucket), found[0])
        if row is not None:
            session.delete(row)


@dataclass
class Listing:
    contents: list  # [ObjectView]
    common_prefixes: list  # [str]
    truncated: bool
    last_key: str | None  # the last key or prefix handed out (for the next marker)


def _all_keys(ctx: StoreContext, session, bucket: str) -> dict[str, tuple[Path, str]]:
    directory = bucket_dir(ctx, bucket)
    found = {key: (path, "plain") for key, path in storage.plain_files(directory)}
    encoded = session.scalars(select(StoredObject).where(
        StoredObject.bucket == bucket, StoredObject.location == "encoded"))
    for row in encoded:
        path = keys.encoded_path(directory, row.key)
        if path.is_file():
            found[row.key] = (path, "encoded")
    return found


def list_objects(ctx: StoreContext, bucket: str, prefix: str = "", delimiter: str = "",
                 after: str = "", max_keys: int = 1000) -> Listing:
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket)
        files = _all_keys(ctx, session, bucket)
        rows = {row.key: row for row in session.scalars(
            select(StoredObject).where(StoredObject.bucket == bucket, StoredObject.key.startswith(prefix)))}
        contents, prefixes, truncated, last = [], [], False, None
        for key in sorted(k for k in files if k.startswith(prefix) and k > after):
            rest = key[len(prefix):]
            is_prefix = bool(delimiter) and delimiter in rest
            entry = key[:len(prefix) + rest.index(delimiter) + len(delimiter)] if is_prefix else key
            if is_prefix and (entry <= after or (prefixes and prefixes[-1] == entry)):
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if is_prefix:
                prefixes.append(entry)
            else:
                path, location = files[key]
                contents.append(_view(_fresh_row(session, bucket, key, path, location, rows.get(key)), path))
            last = entry
        return Listing(contents, prefixes, truncated, last)
