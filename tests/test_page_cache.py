"""Large bodies are flushed to the disk while they arrive and dropped from the page
cache once flushed, and large ranges are dropped behind their reader
(elmr/objectstore/page_cache.py). What a user relies on: every byte of a
body that crossed several flushes or drops is in place and read back whole, and a
flush that fails turns the write into an error instead of an acknowledged upload."""

import hashlib
import os

import pytest

from elmr.api.file_range import FileRange
from elmr.objectstore import page_cache, storage

MIB = 1024 * 1024


@pytest.fixture
def flush_every_mib(monkeypatch):
    """Flush and drop every MiB, so a few MiB of test data cross several of each."""
    monkeypatch.setattr(page_cache, "LARGE", MIB)


def _pieces(data: bytes, size: int):
    return (data[start:start + size] for start in range(0, len(data), size))


def test_a_part_crossing_several_flushes_lands_whole_at_its_offset(tmp_path, flush_every_mib):
    assembly = tmp_path / "assembly"
    before = os.urandom(12 * MIB)
    assembly.write_bytes(before)
    part = os.urandom(6 * MIB + 123)
    md5_hex, size = storage.write_at(assembly, 3 * MIB, len(part), _pieces(part, 300_000))
    after = assembly.read_bytes()
    assert (md5_hex, size) == (hashlib.md5(part).hexdigest(), len(part))
    assert after == before[:3 * MIB] + part + before[3 * MIB + len(part):]


def test_a_staged_body_crossing_several_flushes_lands_whole(tmp_path, flush_every_mib):
    body = os.urandom(7 * MIB + 5)
    staged, md5_hex, size = storage.write_staged(tmp_path, _pieces(body, MIB // 3))
    assert (md5_hex, size) == (hashlib.md5(body).hexdigest(), len(body))
    assert staged.read_bytes() == body


def test_a_range_read_across_several_drops_comes_back_whole(tmp_path, flush_every_mib):
    stored = tmp_path / "object"
    body = os.urandom(9 * MIB + 77)
    stored.write_bytes(body)
    with FileRange(open(stored, "rb"), 0, len(body) - 1) as whole:
        assert b"".join(whole) == body
    start, end = MIB + 5, 8 * MIB + 3
    with FileRange(open(stored, "rb"), start, end) as part:
        assert b"".join(part) == body[start:end + 1]
    assert stored.read_bytes() == body


def test_a_failed_background_flush_fails_the_write():
    """A pipe cannot be fdatasynced: the background flush fails, and the writer hears
    of it when it finishes, as it would of a disk error."""
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(OSError):
            with page_cache.BackgroundFlush(write_end) as flush:
                flush.wrote(page_cache.LARGE)
    finally:
        os.close(read_end)
        os.close(write_end)
