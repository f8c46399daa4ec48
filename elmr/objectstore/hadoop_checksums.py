"""Hadoop's checksum files in the bucket dirs. Clusters reach s3:// through S3A and
the S3 API, but a Hadoop program given a bucket directory as a local path (file://)
goes through Hadoop's LocalFileSystem, which writes a CRC file `.NAME.crc` beside every file NAME and
checks every later read of NAME against it. S3 and EMRFS have no such files, so they
are not objects: listings leave them out. And when the S3 API replaces or deletes
NAME, its checksum file goes with it: left behind, it no longer matches, and Spark
refuses to read the new bytes (ChecksumException). Without one, Hadoop reads
unchecked."""

from pathlib import Path

# How every Hadoop checksum file starts (ChecksumFileSystem's CHECKSUM_VERSION).
MAGIC = b"crc\0"


def checksum_file_of(path: Path) -> Path:
    return path.with_name(f".{path.name}.crc")


def is_checksum_file(path: Path) -> bool:
    """Named as Hadoop names them, and starting as Hadoop writes them: a user's own
    object that merely ends in `.crc` stays an object."""
    name = path.name
    if not (name.startswith(".") and name.endswith(".crc") and len(name) > len("..crc")):
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def remove_checksum_of(path: Path) -> None:
    """Remove the checksum file Hadoop kept for the file at `path`, if there is one."""
    checksum = checksum_file_of(path)
    if is_checksum_file(checksum):
        checksum.unlink(missing_ok=True)
