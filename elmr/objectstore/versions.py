"""Object versions. A bucket whose versioning was never turned on keeps one version
of each key, the one S3 calls `null`. Once PutBucketVersioning has set it Enabled (or
later Suspended), a write or delete of a key keeps what it replaces: the current
object moves to the bucket's `.elmr/versions/` (its row to s3_object_versions), and a
delete leaves a delete marker. The current object of every key stays where it was,
its file at the key's path and its row in s3_objects, so reading the current object
costs the same in every bucket. objects.py decides when a version is kept; this
module keeps them (rows and files) and checks version ids."""

import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, bindparam, delete, func, insert, select

from elmr.objectstore import keys
from elmr.objectstore.errors import S3Error
from elmr.store.object_models import ObjectVersion

NULL = "null"
ENABLED, SUSPENDED = "Enabled", "Suspended"
# elmr's version ids: the time they were made (hex ns) and 64 random bits.
_VERSION_ID = re.compile(r"^[0-9a-f]{32}$")

_versions = ObjectVersion.__table__


def new_id() -> str:
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def check_version_id(version_id: str | None) -> None:
    """InvalidArgument unless `version_id` is absent, `null`, or one elmr may have
    issued: a version id S3 never issued is refused, not taken for the object (a
    DeleteObject of an "old version" must not delete the current one)."""
    if version_id is not None and version_id != NULL and not _VERSION_ID.match(version_id):
        raise S3Error("InvalidArgument", "Invalid version id specified", 400,
                      ArgumentName="versionId", ArgumentValue=version_id)


def wire_id(version_id: str | None) -> str:
    """The id S3 shows for a version (the current object's None is `null`)."""
    return version_id or NULL


@dataclass
class Version:
    """What is kept of a version: its row's fields (see ObjectVersion)."""

    key: str
    version_id: str
    delete_marker: bool
    etag: str
    size: int
    content_type: str
    user_metadata: dict
    last_modified: datetime
    headers: dict | None = None
    checksum: dict | None = None
    tags: dict | None = None
    part_sizes: list | None = None
    created_ns: int = 0


def _row_values(bucket: str, version: Version) -> dict:
    return {"bucket": bucket, "key": version.key, "version_id": version.version_id,
            "delete_marker": version.delete_marker, "created_ns": version.created_ns, "etag": version.etag,
            "size": version.size, "content_type": version.content_type, "user_metadata": version.user_metadata,
            "last_modified": version.last_modified, "headers": version.headers, "checksum": version.checksum,
            "tags": version.tags, "part_sizes": version.part_sizes}


def _from_row(row) -> Version:
    return Version(row.key, row.version_id, row.delete_marker, row.etag, row.size, row.content_type,
                   dict(row.user_metadata), row.last_modified, row.headers, row.checksum, row.tags, row.part_sizes,
                   row.created_ns)


_KEY = and_(_versions.c.bucket == bindparam("b_bucket"), _versions.c.key == bindparam("b_key"))


def _next_created_ns(connection, bucket: str, key: str) -> int:
    """Later than every version the key has: a version kept now is its newest."""
    newest = connection.execute(select(func.max(_versions.c.created_ns)).where(_KEY),
                                {"b_bucket": bucket, "b_key": key}).scalar()
    return max(time.time_ns(), (newest or 0) + 1)


def keep(connection, bucket_dir: Path, bucket: str, version: Version, current_file: Path | None) -> None:
    """Keep `version` as the key's newest noncurrent version: its row, and its file
    (the key's current file, moved away) unless it is a delete marker."""
    version.created_ns = _next_created_ns(connection, bucket, version.key)
    if current_file is not None:
        archived = keys.version_path(bucket_dir, version.key, version.version_id)
        archived.parent.mkdir(parents=True, exist_ok=True)
        os.replace(current_file, archived)
    connection.execute(insert(_versions), _row_values(bucket, version))


def find(connection, bucket: str, key: str, version_id: str) -> Version | None:
    row = connection.execute(select(_versions).where(_KEY, _versions.c.version_id == version_id),
                             {"b_bucket": bucket, "b_key": key}).first()
    return _from_row(row) if row is not None else None


def newest(connection, bucket: str, key: str) -> Version | None:
    row = connection.execute(select(_versions).where(_KEY).order_by(_versions.c.created_ns.desc()).limit(1),
                             {"b_bucket": bucket, "b_key": key}).first()
    return _from_row(row) if row is not None else None


def forget(connection, bucket_dir: Path, bucket: str, key: str, version_id: str) -> Version | None:
    """Remove a noncurrent version (its row and file); the version removed, if any."""
    version = find(connection, bucket, key, version_id)
    if version is not None:
        connection.execute(delete(_versions).where(_KEY, _versions.c.version_id == version_id),
                           {"b_bucket": bucket, "b_key": key})
        keys.version_path(bucket_dir, key, version_id).unlink(missing_ok=True)
    return version


def any_in(connection, bucket: str) -> bool:
    return connection.execute(select(_versions.c.key).where(_versions.c.bucket == bucket).limit(1)).first() is not None


def noncurrent(connection, bucket: str, prefix: str) -> dict[str, list[Version]]:
    """Every noncurrent version and delete marker under `prefix`, by key, newest first."""
    rows = connection.execute(select(_versions).where(_versions.c.bucket == bucket,
                                                      _versions.c.key.startswith(prefix, autoescape=True))
                              .order_by(_versions.c.key, _versions.c.created_ns.desc()))
    found: dict[str, list[Version]] = {}
    for row in rows:
        found.setdefault(row.key, []).append(_from_row(row))
    return found


def file_of(bucket_dir: Path, version: Version) -> Path:
    return keys.version_path(bucket_dir, version.key, version.version_id)


def set_tags(connection, bucket: str, key: str, version_id: str, tags: dict | None) -> None:
    connection.execute(_versions.update().where(_KEY, _versions.c.version_id == version_id).values(tags=tags),
                       {"b_bucket": bucket, "b_key": key})
