"""Tables of the embedded object store. The bytes live in files under
DATA_DIR/buckets/<bucket>/; these rows hold what S3 says about them (ETag, size,
content type, user metadata, the headers and checksum given at write time, tags),
the versions a versioned bucket keeps, and the uploads in progress. A file that
appeared without a row (Spark wrote it through s3://) gets its row the first time it
is listed or read.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from elmr.store.models import Base


class Bucket(Base):
    __tablename__ = "s3_buckets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    created_at: Mapped[datetime]
    # None: versioning never turned on; else "Enabled" or "Suspended" (it never goes back).
    versioning: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[dict | None]  # the bucket's TagSet, {key: value}


class StoredObject(Base):
    __tablename__ = "s3_objects"

    bucket: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))  # without quotes
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(256))
    user_metadata: Mapped[dict]
    last_modified: Mapped[datetime]
    # "plain": the file is <bucket dir>/<key>; "encoded": <bucket dir>/.elmr/objects/<digest>
    location: Mapped[str] = mapped_column(String(16))
    # The file's mtime when this row was written: a newer file (rewritten by Spark)
    # makes the row stale, and it is refreshed.
    file_mtime_ns: Mapped[int] = mapped_column(BigInteger)
    # The current version's id; None is the version S3 calls "null" (every object of
    # a bucket whose versioning was never enabled, and what Spark writes).
    version_id: Mapped[str | None] = mapped_column(String(64))
    # Given at write time and sent back: Cache-Control, Content-Disposition, … by name.
    headers: Mapped[dict | None]
    checksum: Mapped[dict | None]  # {"algorithm": "CRC32", "value": base64, "type": "FULL_OBJECT"}
    tags: Mapped[dict | None]  # {key: value}
    part_sizes: Mapped[list | None]  # a multipart object's parts, in order (GetObject's PartNumber)


class ObjectVersion(Base):
    """A version of a key that is not its current object (the current one is in
    s3_objects): a noncurrent version, its bytes kept under the bucket's
    .elmr/versions/, or a delete marker (no bytes)."""

    __tablename__ = "s3_object_versions"

    bucket: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "null" for the null version
    delete_marker: Mapped[bool] = mapped_column(Boolean)
    created_ns: Mapped[int] = mapped_column(BigInteger)  # orders a key's versions, newest last
    etag: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(256))
    user_metadata: Mapped[dict]
    last_modified: Mapped[datetime]
    headers: Mapped[dict | None]
    checksum: Mapped[dict | None]
    tags: Mapped[dict | None]
    part_sizes: Mapped[list | None]


class MultipartUpload(Base):
    __tablename__ = "s3_uploads"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63), index=True)
    key: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(256))
    user_metadata: Mapped[dict]
    created_at: Mapped[datetime]
    # The size of the first part that arrived: parts up to this size are written into
    # the upload's assembly file at (number - 1) × slot_size (see multipart.py).
    slot_size: Mapped[int | None] = mapped_column(BigInteger)
    headers: Mapped[dict | None]  # as s3_objects'
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16))  # CRC32, …, asked at creation
    checksum_type: Mapped[str | None] = mapped_column(String(16))  # COMPOSITE | FULL_OBJECT
    tags: Mapped[dict | None]


class UploadedPart(Base):
    __tablename__ = "s3_parts"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[datetime]
    # None: the part is in its slot of the assembly file; else its own file's name.
    own_file: Mapped[str | None] = mapped_column(String(64))
    checksum: Mapped[dict | None]  # {"algorithm": "CRC32", "value": base64}, as the part was sent
