"""Where an object's bytes live. A key that is a plain relative path maps to the same
path under its bucket's directory, so what Spark writes through s3:// (a file under
the bucket dir) is an object, and the reverse. Every other key (`..` or `.`
segments, empty segments as in `a//b` or a trailing `/`, NUL, over-long segments,
anything under the store's own `.elmr` dir, a path blocked by an object that is a
file where a directory is needed, or one through a symlink leading out of the bucket)
is stored under a digest of the key, so no key can ever reach a path outside its
bucket's directory.
"""

import hashlib
import os
import stat
from pathlib import Path

INTERNAL_DIR = ".elmr"
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255


class InvalidKey(ValueError):
    pass


def check_key(key: str) -> None:
    encoded = key.encode("utf-8", errors="surrogatepass")
    if not key or len(encoded) > MAX_KEY_BYTES:
        raise InvalidKey("Your key is too long" if key else "The key must not be empty")


def is_plain(key: str) -> bool:
    segments = key.split("/")
    return (
        all(segment not in ("", ".", "..") for segment in segments)
        and segments[0] != INTERNAL_DIR
        and "\0" not in key
        and all(len(segment.encode()) <= MAX_SEGMENT_BYTES for segment in segments)
        and not any(segment.startswith(".elmr-") for segment in segments)
    )


def plain_path(bucket_dir: Path, key: str) -> Path | None:
    """The key as a path under its bucket's directory, or None when it cannot be one:
    the key is not plain, or (defence in depth) the path would lead out of the bucket
    through a symlink that something writing the files directly put there."""
    if not is_plain(key):
        return None
    segments = key.split("/")
    path = bucket_dir.joinpath(*segments)
    return path if not _symlink_on(bucket_dir, segments) or _resolves_inside(bucket_dir, path) else None


def _symlink_on(bucket_dir: Path, segments: list[str]) -> bool:
    """Whether any of the key's own segments is a symlink: a plain key's path is
    otherwise inside its bucket by construction. One lstat per existing segment
    (resolving the whole path walked every directory above the bucket too, twice,
    for every PUT and GET)."""
    current = str(bucket_dir)
    for segment in segments:
        current = os.path.join(current, segment)
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except OSError:
            return False  # missing (or unreadable): nothing below it exists to lead out
    return False


def _resolves_inside(bucket_dir: Path, path: Path) -> bool:
    return bucket_dir.resolve() in path.resolve().parents


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()


def encoded_path(bucket_dir: Path, key: str) -> Path:
    digest = _digest(key)
    return bucket_dir / INTERNAL_DIR / "objects" / digest[:2] / digest


def version_path(bucket_dir: Path, key: str, version_id: str) -> Path:
    """Where a noncurrent version of the key keeps its bytes (a versioned bucket)."""
    digest = _digest(key)
    return bucket_dir / INTERNAL_DIR / "versions" / digest[:2] / digest / version_id


def staging_dir(bucket_dir: Path) -> Path:
    return bucket_dir / INTERNAL_DIR / "staging"


def uploads_dir(bucket_dir: Path) -> Path:
    return bucket_dir / INTERNAL_DIR / "uploads"
