"""Tables of the embedded object store. The bytes live in files under
DATA_DIR/buckets/<bucket>/; these rows hold what S3 says about them (ETag, size,
content type, user metadata) and the uploads in progress. A file that appeared without
a row (Spark wrote it through s3://) gets its row the first time it is listed or read.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from elmr.store.models import Base


class Bucket(Base):
    __tablename__ = "s3_buckets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    created_at: Mapped[datetime]


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


class UploadedPart(Base):
    __tablename__ = "s3_parts"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[datetime]
    # None: the part is in its slot of the assembly file; else its own file's name.
    own_file: Mapped[str | None] = mapped_column(String(64))
