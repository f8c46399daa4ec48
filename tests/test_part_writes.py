"""A multipart part written at its offset of the upload's assembly file: the bytes
must land exactly there, whatever pieces the socket delivered them in, and the bytes
around them (other parts' slots) must stay as they were."""

import hashlib
import os

import pytest

from elmr.objectstore import storage
from elmr.objectstore.errors import S3Error

MIB = 1024 * 1024


def _chunks(data: bytes, sizes):
    """`data` cut as a socket might deliver it: uneven pieces."""
    position, index = 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        yield data[position:position + size]
        position += size
        index += 1


@pytest.mark.parametrize("offset", [0, 3 * MIB, 12345])
def test_part_lands_at_its_offset_and_nothing_else_changes(tmp_path, offset):
    assembly = tmp_path / "assembly"
    before = os.urandom(offset + 5 * MIB)
    assembly.write_bytes(before)
    part = os.urandom(2 * MIB + 4097)
    md5_hex, size = storage.write_at(assembly, offset, len(part), _chunks(part, [7000, MIB, 300_000]))
    after = assembly.read_bytes()
    assert (md5_hex, size) == (hashlib.md5(part).hexdigest(), len(part))
    assert after[offset:offset + len(part)] == part
    assert after[:offset] == before[:offset] and after[offset + len(part):] == before[offset + len(part):]


def test_a_body_longer_than_declared_is_refused_before_it_reaches_the_next_slot(tmp_path):
    assembly = tmp_path / "assembly"
    assembly.write_bytes(b"\0" * (2 * MIB))
    with pytest.raises(S3Error, match="longer than its declared length"):
        storage.write_at(assembly, 0, MIB, _chunks(os.urandom(MIB + 1), [MIB // 2]))
    assert assembly.read_bytes()[MIB:] == b"\0" * MIB
