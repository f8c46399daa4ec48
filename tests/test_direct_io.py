"""A part written at its offset of the assembly file: the bytes must land exactly
there, whether the kernel takes them with O_DIRECT (disk filesystems, aligned
offsets) or only through the page cache (tmpfs, unaligned offsets), and the bytes
around them must stay as they were."""

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from elmr.service.objectstore import direct_io, storage

MIB = 1024 * 1024
SHM = Path("/dev/shm")


def _chunks(data: bytes, sizes):
    """`data` cut as a socket might deliver it: uneven pieces."""
    position, index = 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        yield data[position:position + size]
        position += size
        index += 1


@pytest.mark.parametrize("where", ["disk", "tmpfs"])
@pytest.mark.parametrize("offset", [0, 3 * MIB, 12345])
def test_part_lands_at_its_offset_and_nothing_else_changes(tmp_path, where, offset):
    if where == "tmpfs" and not SHM.is_dir():
        pytest.skip("no /dev/shm tmpfs on this machine to try the page-cache path on")
    directory = Path(tempfile.mkdtemp(dir=SHM)) if where == "tmpfs" else tmp_path
    try:
        assembly = directory / "assembly"
        before = os.urandom(offset + 5 * MIB)
        assembly.write_bytes(before)
        part = os.urandom(2 * MIB + 4097)  # two buffers' worth and a partial block
        md5_hex, size = storage.write_at(assembly, offset, len(part), _chunks(part, [7000, MIB, 300_000]))
        after = assembly.read_bytes()
        assert (md5_hex, size) == (hashlib.md5(part).hexdigest(), len(part))
        assert after[offset:offset + len(part)] == part
        assert after[:offset] == before[:offset] and after[offset + len(part):] == before[offset + len(part):]
    finally:
        if where == "tmpfs":
            for leftover in directory.iterdir():
                leftover.unlink()
            directory.rmdir()


def test_direct_io_is_used_on_a_disk_filesystem(tmp_path):
    """The point of the module: on a disk filesystem, aligned parts bypass the
    page cache (if this machine's /tmp refuses O_DIRECT, there is nothing to check)."""
    with direct_io.OffsetWriter(tmp_path / "assembly", 0) as writer:
        if writer.direct is None:
            pytest.skip(f"{tmp_path} refuses O_DIRECT (tmpfs or similar)")
        writer.write(b"x" * (MIB + 10))
        writer.finish()
    assert (tmp_path / "assembly").read_bytes() == b"x" * (MIB + 10)


def test_a_body_longer_than_declared_is_refused_before_it_reaches_the_next_slot(tmp_path):
    assembly = tmp_path / "assembly"
    assembly.write_bytes(b"\0" * (2 * MIB))
    with pytest.raises(Exception, match="longer than its declared length"):
        storage.write_at(assembly, 0, MIB, _chunks(os.urandom(MIB + 1), [MIB // 2]))
    assert assembly.read_bytes()[MIB:] == b"\0" * MIB
