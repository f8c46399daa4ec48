"""Object bytes on disk. Every write goes to a staging file in the bucket's own
`.elmr/staging` dir (same filesystem), is fsynced, then renamed into place: a reader,
or a server killed at any moment, sees the old object or the new one, never a part.
Staging files are not objects, so an interrupted write leaves nothing listed."""

import hashlib
import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from elmr.objectstore import hadoop_checksums, keys
from elmr.objectstore.errors import S3Error
from elmr.objectstore.page_cache import BackgroundFlush, DropBehind

CHUNK = 1024 * 1024


@dataclass
class Written:
    path: Path
    location: str  # plain | encoded
    mtime_ns: int


def staging_file(bucket_dir: Path) -> Path:
    directory = keys.staging_dir(bucket_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / secrets.token_hex(16)


def _stream_chunks(write, chunks: Iterable[bytes], observers, limit: int | None) -> tuple[str, int]:
    """Hand every chunk to `write` and to the observers; returns (md5 hex, size)."""
    md5, size = hashlib.md5(), 0
    for chunk in chunks:
        size += len(chunk)
        if limit is not None and size > limit:
            raise S3Error("InvalidRequest", "The body is longer than its declared length.", 400)
        md5.update(chunk)
        for observer in observers:
            observer.update(chunk)
        write(chunk)
    return md5.hexdigest(), size


def _counting(write: Callable[[bytes], object], flush: BackgroundFlush) -> Callable[[bytes], None]:
    def write_and_count(chunk: bytes) -> None:
        write(chunk)
        flush.wrote(len(chunk))
    return write_and_count


def write_staged(bucket_dir: Path, chunks: Iterable[bytes], observers=(),
                 verify: Callable[[str, int], None] | None = None, sync: bool = True) -> tuple[Path, str, int]:
    """Stream chunks to a staging file; returns (path, md5 hex, size). `observers`
    see every chunk (checksums); `verify(md5 hex, size)` may refuse the body once it
    is written, and the staging file goes with it. `sync=False`: the caller makes the
    file durable (put_object does, with `sync_in_background`)."""
    staged = staging_file(bucket_dir)
    try:
        with open(staged, "wb") as out:
            with BackgroundFlush(out.fileno()) as flush:
                md5_hex, size = _stream_chunks(_counting(out.write, flush), chunks, observers, None)
            out.flush()
            if sync:
                os.fsync(out.fileno())
        if verify is not None:
            verify(md5_hex, size)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged, md5_hex, size


# fsyncs of staged files run here while the request's thread goes on with the
# object's transaction (put_object): an fsync is ~1 ms of waiting on the disk, about
# what the transaction takes up to the rename that must follow it.
_syncer = ThreadPoolExecutor(8, thread_name_prefix="elmr-fsync")


def sync_in_background(path: Path) -> Future:
    """Start making a written, closed file durable: the Future's result() returns once
    its bytes are on the disk, or raises the fsync's error. (A writeback error nobody
    has seen yet is reported to a descriptor opened after it, on Linux since 4.16.)"""
    return _syncer.submit(_fsync_file, path)


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_at(path: Path, offset: int, limit: int, chunks: Iterable[bytes], observers=()) -> tuple[str, int]:
    """Stream at most `limit` bytes into `path` (created if missing) from `offset`,
    leaving the rest of the file as it is; fdatasynced. Returns (md5 hex, size)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    position = offset

    def write(chunk: bytes) -> None:
        nonlocal position
        view = memoryview(chunk)
        while view:
            written = os.pwrite(descriptor, view, position)
            position += written
            view = view[written:]

    try:
        with BackgroundFlush(descriptor, offset) as flush:
            result = _stream_chunks(_counting(write, flush), chunks, observers, limit)
        os.fdatasync(descriptor)
    finally:
        os.close(descriptor)
    return result


@dataclass
class Extent:
    """`size` bytes of `path` from `offset`: a multipart upload's part."""
    path: Path
    offset: int
    size: int


def concatenate(bucket_dir: Path, extents: list[Extent]) -> tuple[Path, int]:
    """The extents, in order, in one staging file; returns (path, size). Copied inside
    the kernel (copy_file_range), and not hashed again: a multipart object's ETag
    comes from its parts' MD5s. Not fsynced here: put_object does that before placing
    it."""
    staged = staging_file(bucket_dir)
    size = 0
    try:
        with open(staged, "wb") as out:
            for extent in extents:
                with open(extent.path, "rb") as source:
                    size += _copy_extent(source.fileno(), out.fileno(), extent)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged, size


def _copy_extent(source: int, target: int, extent: Extent) -> int:
    offset, remaining = extent.offset, extent.size
    while remaining > 0:
        copied = os.copy_file_range(source, target, remaining, offset)
        if copied == 0:
            raise OSError(f"{extent.path} ended early")
        offset += copied
        remaining -= copied
    return extent.size


def _can_place(path: Path, bucket_dir: Path) -> bool:
    """A plain path is usable unless a file stands where a directory is needed, or
    a directory where the file goes (S3 allows both `a` and `a/b` as keys)."""
    if path.is_dir():
        return False
    parent = path.parent
    while parent != bucket_dir:
        if parent.exists() and not parent.is_dir():
            return False
        parent = parent.parent
    return True


def place(bucket_dir: Path, key: str, staged: Path, replaced_mtime_ns: int | None = None) -> Written:
    """Move a staged file to the key's location, atomically. A checksum file Hadoop
    kept for the old bytes goes first: Spark would refuse the new ones against it.
    `replaced_mtime_ns`: the mtime of the file it replaces; the new one gets a later
    one, so that size and mtime tell an object's versions apart (readers check the
    file they opened by them: objects.open_object) even within one tick of the
    filesystem's clock (ext4's is coarse: ~4 ms)."""
    if replaced_mtime_ns is not None:
        staged_stat = os.stat(staged)
        if staged_stat.st_mtime_ns <= replaced_mtime_ns:
            os.utime(staged, ns=(staged_stat.st_atime_ns, replaced_mtime_ns + 1))
    path = keys.plain_path(bucket_dir, key)
    location = "plain"
    if path is None or not _can_place(path, bucket_dir):
        path, location = keys.encoded_path(bucket_dir, key), "encoded"
    path.parent.mkdir(parents=True, exist_ok=True)
    if location == "plain":
        hadoop_checksums.remove_checksum_of(path)
    os.replace(staged, path)
    return Written(path, location, path.stat().st_mtime_ns)


def sweep_staging(buckets_root: Path) -> int:
    """Remove every staging file under `buckets_root`; returns the bytes reclaimed.
    Only for a server starting up: a staging file then belongs to a write that a
    previous server did not finish (killed mid-upload), which nothing will finish or
    list. Multipart parts live in the uploads dir and are kept."""
    reclaimed = 0
    bucket_dirs = buckets_root.iterdir() if buckets_root.is_dir() else ()
    for staging in filter(Path.is_dir, map(keys.staging_dir, bucket_dirs)):
        for path in staging.iterdir():
            reclaimed += path.stat().st_size
            path.unlink()
    return reclaimed


def remove(bucket_dir: Path, path: Path) -> None:
    """Delete an object's file, Hadoop's checksum file for it, and the directories
    they leave empty."""
    hadoop_checksums.remove_checksum_of(path)
    path.unlink(missing_ok=True)
    parent = path.parent
    while parent != bucket_dir and parent.name != keys.INTERNAL_DIR:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            md5.update(chunk)
    return md5.hexdigest()


def plain_files(bucket_dir: Path) -> Iterable[tuple[str, Path]]:
    """(key, path) of every plain object, skipping the store's own dir and the
    checksum files Hadoop writes beside the files Spark writes."""
    for root, dirs, files in os.walk(bucket_dir):
        root_path = Path(root)
        if root_path == bucket_dir:
            dirs[:] = [d for d in dirs if d != keys.INTERNAL_DIR]
        for name in files:
            path = root_path / name
            if not hadoop_checksums.is_checksum_file(path):
                yield path.relative_to(bucket_dir).as_posix(), path
