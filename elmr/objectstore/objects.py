"""Buckets and objects: S3's semantics over the files of storage.py and the rows of
object_models.py. What Spark wrote through s3:// has no row yet; it gets one (ETag
and size from the file) the first time it is listed or read."""

import hashlib
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, bindparam, delete, func, insert, select, update

from elmr.objectstore import bucket_naming, conditions, keys, storage, versions
from elmr.objectstore.conditions import NO_CONDITION, WriteCondition
from elmr.objectstore.context import StoreContext
from elmr.objectstore.errors import S3Error
from elmr.objectstore.versions import Version
from elmr.store.object_models import Bucket, StoredObject

DEFAULT_CONTENT_TYPE = "binary/octet-stream"


@dataclass(frozen=True)
class Attributes:
    """What a write says of an object besides its bytes, all sent back by GET and
    HEAD: its content type, user metadata, the headers S3 keeps (Cache-Control,
    Content-Disposition, Content-Encoding, Content-Language, Expires), its checksum
    ({"algorithm", "value", "type"}), tags, and a multipart object's part sizes."""

    content_type: str | None = None
    user_metadata: dict = field(default_factory=dict)
    headers: dict | None = None
    checksum: dict | None = None
    tags: dict | None = None
    part_sizes: list | None = None


NO_ATTRIBUTES = Attributes()


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
    bucket_naming.check(bucket)
    with ctx.store.transaction() as session:
        if session.get(Bucket, bucket) is not None:
            raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named "
                          "bucket succeeded and you already own it.", 409, BucketName=bucket)
        session.add(Bucket(name=bucket, created_at=ctx.clock()))
        keys.staging_dir(bucket_dir(ctx, bucket)).mkdir(parents=True, exist_ok=True)


def head_bucket(ctx: StoreContext, bucket: str) -> Bucket:
    with ctx.store.transaction() as session:
        return _require_bucket(session, bucket)


def set_versioning(ctx: StoreContext, bucket: str, status: str) -> None:
    """PutBucketVersioning: Enabled or Suspended (a bucket never goes back to
    unversioned, as in S3)."""
    if status not in (versions.ENABLED, versions.SUSPENDED):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate "
                      "against our published schema.", 400)
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket).versioning = status


def set_bucket_tags(ctx: StoreContext, bucket: str, tags: dict | None) -> None:
    with ctx.store.transaction() as session:
        _require_bucket(session, bucket).tags = tags


def bucket_dir_exists(ctx: StoreContext, bucket: str) -> None:
    """NoSuchBucket unless the bucket's directory is there: a check without a
    transaction, before a body is staged; the store stays the authority when the
    object is recorded."""
    if not bucket_naming.is_valid(bucket) or not keys.staging_dir(bucket_dir(ctx, bucket)).is_dir():
        raise _no_such_bucket(bucket)


def list_buckets(ctx: StoreContext) -> list[Bucket]:
    with ctx.store.transaction() as session:
        return session.scalars(select(Bucket).order_by(Bucket.name)).all()


def delete_bucket(ctx: StoreContext, bucket: str) -> None:
    """Only an empty bucket, with no versions kept either (in-progress uploads are
    aborted with it, as in S3)."""
    with ctx.store.transaction() as session:
        kept = versions.any_in(session.connection(), bucket)
    if kept or list_objects(ctx, bucket, max_keys=1).contents:
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
    row.checksum = row.part_sizes = None  # they were of the bytes the file held before
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
    version_id: str | None = None  # None: the version S3 calls "null"
    headers: dict | None = None
    checksum: dict | None = None
    tags: dict | None = None
    part_sizes: list | None = None


def _view(row, path: Path) -> ObjectView:
    """From a StoredObject, or a Core row of its columns."""
    return ObjectView(row.key, row.etag, row.size, row.content_type, dict(row.user_metadata),
                      row.last_modified, path, row.file_mtime_ns, row.version_id, row.headers, row.checksum,
                      row.tags, row.part_sizes)


def head_object(ctx: StoreContext, bucket: str, key: str, version_id: str | None = None) -> ObjectView:
    """The object's metadata and file (of the version named, else the current one).
    Most objects have a row that matches their file: one Core query answers (a GET of
    a small object spent half its server time in two ORM lookups). A file without a
    row, or changed under it, takes the path that writes."""
    with ctx.store.core_transaction() as connection:
        found = connection.execute(_BUCKET_AND_OBJECT_ROW, {"b_bucket": bucket, "b_key": key}).first()
    if found is None:
        raise _no_such_bucket(bucket)
    if version_id is not None and version_id != versions.wire_id(found.version_id):
        return _noncurrent_version(ctx, bucket, key, version_id)
    if found.location is not None:
        view = _view_if_unchanged(ctx, found)
        if view is not None:
            return view
    view = _head_object_recording(ctx, bucket, key)
    if version_id is not None and version_id != versions.wire_id(view.version_id):
        return _noncurrent_version(ctx, bucket, key, version_id)
    return view


def _noncurrent_version(ctx: StoreContext, bucket: str, key: str, version_id: str) -> ObjectView:
    """A version kept when the key was written again or deleted (a versioned bucket)."""
    versions.check_version_id(version_id)
    with ctx.store.core_transaction() as connection:
        version = versions.find(connection, bucket, key, version_id)
    if version is None:
        raise S3Error("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version_id)
    if version.delete_marker:
        refused = S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                          Method="GET", ResourceType="DeleteMarker")
        refused.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": version_id}
        raise refused
    path = versions.file_of(bucket_dir(ctx, bucket), version)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise S3Error("NoSuchVersion", "The specified version does not exist.", 404, Key=key,
                      VersionId=version_id) from None
    return ObjectView(key, version.etag, version.size, version.content_type, version.user_metadata,
                      version.last_modified, path, mtime_ns, version_id, version.headers, version.checksum,
                      version.tags, version.part_sizes)


# Lookups an open_object makes before giving up on an object rewritten under it.
_OPEN_ATTEMPTS = 5


def open_object(ctx: StoreContext, bucket: str, key: str, version_id: str | None = None,
                ) -> tuple[ObjectView, BinaryIO]:
    """The object's metadata and its file, opened: what is read from the handle is the
    object the metadata describes, even if a PUT replaces the object meanwhile (the
    handle keeps the file it opened). Opened by path after the lookup, the file could
    already be the next object: its bytes would go out under the old ETag and length.
    A file replaced between the lookup and the open is looked up again."""
    for _ in range(_OPEN_ATTEMPTS):
        view = head_object(ctx, bucket, key, version_id)
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
        versioning = _require_bucket(session, bucket).versioning
        _one_writer_of_the_key(session.connection(), bucket, key)
        row = session.get(StoredObject, (bucket, key))
        found = _file_of(ctx, bucket, key, row.location if row else None)
        if found is None:
            if row is not None:
                session.delete(row)  # the file went away (deleted through Spark)
            missing = S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)
            latest = versions.newest(session.connection(), bucket, key) if versioning else None
            if latest is not None and latest.delete_marker:
                missing.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": latest.version_id}
            raise missing
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
    return put_object(ctx, bucket, key, staged, md5_hex, size, Attributes(content_type))


def put_object(ctx: StoreContext, bucket: str, key: str, staged: Path, md5_hex: str, size: int,
               attributes: Attributes = NO_ATTRIBUTES, etag: str | None = None,
               condition: WriteCondition = NO_CONDITION) -> ObjectView:
    """Place a staged file as `key` and record it (etag: multipart's own), if
    `condition` holds for the object there; in a versioned bucket, the object it
    replaces is kept as a version. The file is made durable here, in the background
    while the transaction begins and looks up the key, and before it is renamed into
    place. The staged file is gone when this returns or raises."""
    try:
        check_key(key)
    except S3Error:
        staged.unlink(missing_ok=True)
        raise
    synced = storage.sync_in_background(staged)
    try:
        with ctx.store.core_transaction() as connection:
            return _record_put(ctx, connection, bucket, key, staged, synced, md5_hex, size, attributes, etag,
                               condition)
    finally:
        staged.unlink(missing_ok=True)  # placed already, unless recording failed


# put_object's and head_object's statements, built once: plain Core on the tables
# (not the ORM's get-then-flush, which was most of the server's CPU time for a small
# PUT), and compiled once since the same statement objects come back with new parameters.
_objects_table, _buckets_table = StoredObject.__table__, Bucket.__table__
_OBJECT_KEY = (_objects_table.c.bucket == bindparam("b_bucket"), _objects_table.c.key == bindparam("b_key"))
# One query for both: a row if the bucket exists, its object's columns None if the key is new.
_BUCKET_AND_OBJECT_ROW = (
    select(_buckets_table.c.name.label("bucket_name"), _buckets_table.c.versioning.label("versioning"),
           *_objects_table.c)
    .select_from(_buckets_table.outerjoin(_objects_table, and_(_objects_table.c.bucket == _buckets_table.c.name,
                                                               *_OBJECT_KEY)))
    .where(_buckets_table.c.name == bindparam("b_bucket"))
)
_INSERT_OBJECT = insert(_objects_table)
_UPDATE_OBJECT = update(_objects_table).where(*_OBJECT_KEY)
_DELETE_OBJECT = delete(_objects_table).where(*_OBJECT_KEY)


def _one_writer_of_the_key(connection, bucket: str, key: str) -> None:
    """From here to the commit, other writers of the key wait: what the transaction
    looked up (the recorded row, a condition's ETag) still holds when it places the
    file. SQLite's BEGIN IMMEDIATE already lets one writer in at a time; PostgreSQL
    gets a transaction-scoped advisory lock on the key."""
    if connection.dialect.name == "postgresql":
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", errors="surrogatepass")).digest()
        connection.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def _record_put(ctx, connection, bucket, key, staged, synced, md5_hex, size, attributes: Attributes, etag,
                condition: WriteCondition):
    """put_object's unit of work: the file moved into place and its row written, the
    object replaced kept as a version where the bucket's versioning says so."""
    object_key = {"b_bucket": bucket, "b_key": key}
    _one_writer_of_the_key(connection, bucket, key)
    found = connection.execute(_BUCKET_AND_OBJECT_ROW, object_key).first()
    if found is None:
        raise _no_such_bucket(bucket)
    directory = bucket_dir(ctx, bucket)
    old_file = _file_of(ctx, bucket, key, found.location)
    if condition:
        condition.check(conditions.current_etag(found, old_file[0] if old_file else None))
    synced.result()  # on the disk before it becomes the object
    replaced_mtime_ns = _mtime_ns(old_file[0]) if old_file else None
    if found.versioning is not None:
        _keep_replaced_version(connection, directory, bucket, key, found, old_file)
    written = storage.place(directory, key, staged, replaced_mtime_ns)
    if old_file is not None and old_file[0] != written.path:
        storage.remove(directory, old_file[0])
    last_modified = datetime.fromtimestamp(written.mtime_ns / 1e9, timezone.utc)
    values = dict(etag=etag or md5_hex, size=size, location=written.location,
                  content_type=attributes.content_type or DEFAULT_CONTENT_TYPE,
                  user_metadata=attributes.user_metadata, last_modified=last_modified,
                  file_mtime_ns=written.mtime_ns, headers=attributes.headers, checksum=attributes.checksum,
                  tags=attributes.tags, part_sizes=attributes.part_sizes,
                  version_id=versions.new_id() if found.versioning == versions.ENABLED else None)
    if found.location is None:
        connection.execute(_INSERT_OBJECT, {"bucket": bucket, "key": key, **values})
    else:
        connection.execute(_UPDATE_OBJECT, {**object_key, **values})
    return ObjectView(key, values["etag"], size, values["content_type"], dict(attributes.user_metadata),
                      last_modified, written.path, written.mtime_ns, values["version_id"], attributes.headers,
                      attributes.checksum, attributes.tags, attributes.part_sizes)


def _keep_replaced_version(connection, directory: Path, bucket: str, key: str, found, old_file) -> None:
    """Before a write to a versioned bucket's key: the object there becomes its newest
    noncurrent version (with versioning suspended, unless it is the null version,
    which the write replaces: there is one null version of a key)."""
    if found.versioning == versions.SUSPENDED:
        versions.forget(connection, directory, bucket, key, versions.NULL)
    if old_file is None or (found.versioning == versions.SUSPENDED and found.version_id is None):
        return
    versions.keep(connection, directory, bucket, _as_version(key, found, old_file[0]), old_file[0])


def _as_version(key: str, found, path: Path) -> Version:
    """The current object (its row, `found`, and file) as a version to keep."""
    if found.location is not None and (found.size, found.file_mtime_ns) == _size_and_mtime(path):
        return Version(key, versions.wire_id(found.version_id), False, found.etag, found.size, found.content_type,
                       dict(found.user_metadata), found.last_modified, found.headers, found.checksum, found.tags,
                       found.part_sizes)
    file_stat = path.stat()  # written by Spark: what the file says
    return Version(key, versions.wire_id(found.version_id), False, storage.file_md5(path), file_stat.st_size,
                   found.content_type or DEFAULT_CONTENT_TYPE, dict(found.user_metadata or {}),
                   datetime.fromtimestamp(file_stat.st_mtime, timezone.utc))


def _size_and_mtime(path: Path) -> tuple[int, int]:
    file_stat = path.stat()
    return file_stat.st_size, file_stat.st_mtime_ns


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Deleted:
    """What a delete did: the version it removed or the delete marker it made."""

    version_id: str | None = None
    delete_marker: bool = False


def delete_object(ctx: StoreContext, bucket: str, key: str, condition: WriteCondition = NO_CONDITION,
                  version_id: str | None = None) -> Deleted:
    """DeleteObject. Of the current object (no `version_id`): idempotent, as in S3 (a
    missing key is deleted, unless `condition` asks for an object there); in a
    versioned bucket it leaves a delete marker and keeps the object as a version. Of
    one version: that version goes for good, and if it was the current object, the
    newest version kept becomes the current one again."""
    versions.check_version_id(version_id)
    with ctx.store.core_transaction() as connection:
        _one_writer_of_the_key(connection, bucket, key)
        found = connection.execute(_BUCKET_AND_OBJECT_ROW, {"b_bucket": bucket, "b_key": key}).first()
        if found is None:
            raise _no_such_bucket(bucket)
        current = _file_of(ctx, bucket, key, found.location)
        current_id = versions.wire_id(found.version_id) if current is not None else None
        if version_id is None or version_id == current_id:
            if condition:
                condition.check(conditions.current_etag(found if found.location else None,
                                                        current[0] if current else None))
            if version_id is None and found.versioning is not None:
                return _delete_leaving_a_marker(ctx, connection, bucket, key, found, current)
            _remove_current(ctx, connection, bucket, key, found, current)
            if version_id is not None:
                _make_newest_version_current(ctx, connection, bucket, key)
            return Deleted(version_id)
        forgotten = versions.forget(connection, bucket_dir(ctx, bucket), bucket, key, version_id)
        if forgotten is not None and forgotten.delete_marker and current is None:
            _make_newest_version_current(ctx, connection, bucket, key)
        return Deleted(version_id, bool(forgotten and forgotten.delete_marker))


def _remove_current(ctx: StoreContext, connection, bucket: str, key: str, found, current) -> None:
    if current is not None:
        storage.remove(bucket_dir(ctx, bucket), current[0])
    if found.location is not None:
        connection.execute(_DELETE_OBJECT, {"b_bucket": bucket, "b_key": key})


def _delete_leaving_a_marker(ctx: StoreContext, connection, bucket: str, key: str, found, current) -> Deleted:
    directory = bucket_dir(ctx, bucket)
    _keep_replaced_version(connection, directory, bucket, key, found, current)
    _remove_current(ctx, connection, bucket, key, found, current)
    marker_id = versions.new_id() if found.versioning == versions.ENABLED else versions.NULL
    versions.keep(connection, directory, bucket, Version(key, marker_id, True, "", 0, DEFAULT_CONTENT_TYPE, {},
                                                         ctx.clock()), None)
    return Deleted(marker_id, True)


def _make_newest_version_current(ctx: StoreContext, connection, bucket: str, key: str) -> None:
    """The key's newest version kept becomes its current object again (unless it is a
    delete marker: then the key stays deleted)."""
    directory = bucket_dir(ctx, bucket)
    latest = versions.newest(connection, bucket, key)
    if latest is None or latest.delete_marker:
        return
    written = storage.place(directory, key, versions.file_of(directory, latest))
    versions.forget(connection, directory, bucket, key, latest.version_id)
    connection.execute(_INSERT_OBJECT, {
        "bucket": bucket, "key": key, "etag": latest.etag, "size": latest.size, "location": written.location,
        "content_type": latest.content_type, "user_metadata": latest.user_metadata,
        "last_modified": latest.last_modified, "file_mtime_ns": written.mtime_ns, "headers": latest.headers,
        "checksum": latest.checksum, "tags": latest.tags, "part_sizes": latest.part_sizes,
        "version_id": None if latest.version_id == versions.NULL else latest.version_id})


def set_object_tags(ctx: StoreContext, bucket: str, key: str, version_id: str | None, tags: dict | None) -> str | None:
    """Put/DeleteObjectTagging; the version tagged."""
    view = head_object(ctx, bucket, key, version_id)
    with ctx.store.core_transaction() as connection:
        _one_writer_of_the_key(connection, bucket, key)
        current = connection.execute(_BUCKET_AND_OBJECT_ROW, {"b_bucket": bucket, "b_key": key}).first()
        if current.location is not None and current.version_id == view.version_id:
            connection.execute(update(_objects_table).where(*_OBJECT_KEY).values(tags=tags),
                               {"b_bucket": bucket, "b_key": key})
        else:
            versions.set_tags(connection, bucket, key, versions.wire_id(view.version_id), tags)
    return view.version_id


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
        if max_keys <= 0:
            return Listing([], [], False, None)  # S3's answer to MaxKeys=0: nothing, and nothing more
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
