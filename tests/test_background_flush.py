"""Large bodies are flushed to the disk while they arrive and dropped from the page
cache once flushed (elmr/service/objectstore/flushing.py). What a user relies on:
every byte of a body that crossed several background flushes is in place, and a
flush that fails turns the write into an error instead of an acknowledged upload."""

import hashlib
import os

import pytest

from elmr.service.objectstore import flushing, storage

MIB = 1024 * 1024


@pytest.fixture
def flush_every_mib(monkeypatch):
    """Flush every MiB, so a few MiB of test data cross several background flushes."""
    monkeypatch.setattr(flushing, "FLUSH_EVERY", MIB)


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


def test_a_failed_background_flush_fails_the_write():
    """A pipe cannot be fdatasynced: the background flush fails, and the writer hears
    of it when it finishes, as it would of a disk error."""
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(OSError):
            with flushing.BackgroundFlush(write_end) as flush:
                flush.wrote(flushing.FLUSH_EVERY)
    finally:
        os.close(read_end)
        os.close(write_end)
