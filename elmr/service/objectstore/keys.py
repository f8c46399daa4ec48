"""Where an object's bytes live. A key that is a plain relative path maps to the same
path under its bucket's directory, so what Spark writes through s3:// (a file under
the bucket dir) is an object, and the reverse. Every other key (`..` or `.`
segments, empty segments as in `a//b` or a trailing `/`, NUL, over-long segments,
anything under the store's own `.elmr` dir, or a path blocked by an object that is a
file where a directory is needed) is stored under a digest of the key, so no key can
ever reach a path outside its bucket's directory.
"""

import hashlib
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


def plain_path(bucket_dir: Path, key: str) -> Path:
    path = bucket_dir.joinpath(*key.split("/"))
    # Defence in depth: is_plain() already excludes every way out.
    if bucket_dir.resolve() not in path.resolve().parents:
        raise InvalidKey(f"key {key!r} leaves its bucket")
    return path


def encoded_path(bucket_dir: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()
    return bucket_dir / INTERNAL_DIR / "objects" / digest[:2] / digest


def staging_dir(bucket_dir: Path) -> Path:
    return bucket_dir / INTERNAL_DIR / "staging"


def uploads_dir(bucket_dir: Path) -> Path:
    return bucket_dir / INTERNAL_DIR / "uploads"
