"""Conditional writes and deletes, as S3 has them: a PutObject, CopyObject or
CompleteMultipartUpload with If-None-Match `*` happens only if no object has the key
(a writer that must not overwrite: a lock file, a table's next commit), one with
If-Match only if the object there has one of the given ETags; a DeleteObject with
If-Match likewise. objects.py checks them in the transaction that places or removes
the file, so they hold against every other writer of the key."""

from dataclasses import dataclass
from pathlib import Path

from elmr.objectstore import storage
from elmr.objectstore.errors import S3Error


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match or If-None-Match header names `etag` (quoted or not), or is `*`."""
    tags = [tag.strip().strip('"') for tag in header.split(",")]
    return "*" in tags or etag.strip('"') in tags


@dataclass(frozen=True)
class WriteCondition:
    if_match: str | None = None  # the header as sent
    if_none_match: bool = False  # If-None-Match: * (S3 takes no other value on writes)

    def __bool__(self) -> bool:
        return self.if_match is not None or self.if_none_match

    def check(self, current_etag: str | None) -> None:
        """Raise S3's error unless the condition holds for the object there now
        (`current_etag` None: there is none)."""
        if self.if_none_match and current_etag is not None:
            raise _failed("If-None-Match")
        if self.if_match is not None:
            if current_etag is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", 404)
            if not etag_matches(self.if_match, current_etag):
                raise _failed("If-Match")


NO_CONDITION = WriteCondition()


def _failed(header: str) -> S3Error:
    return S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                   412, Condition=header)


def current_etag(recorded, file: Path | None) -> str | None:
    """The ETag of the object whose file is `file` (None: no object), from its
    recorded row (anything with etag, size and file_mtime_ns) while the file is the
    one recorded; else from the file itself (Spark wrote or rewrote it)."""
    if file is None:
        return None
    stat = file.stat()
    if recorded is not None and recorded.etag and (recorded.size, recorded.file_mtime_ns) == (
            stat.st_size, stat.st_mtime_ns):
        return recorded.etag
    return storage.file_md5(file)
