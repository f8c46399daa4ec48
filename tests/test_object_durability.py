"""put_object makes the staged file durable (its fsync runs in the background while
the transaction begins) before the file becomes the object."""

import errno
import hashlib
import os

import pytest

from elmr.service.context import ServiceContext
from elmr.objectstore import objects, storage
from elmr.store.db import Store, sqlite_url


@pytest.fixture
def ctx(tmp_path):
    store = Store.open(sqlite_url(tmp_path))
    yield ServiceContext(store=store, data_dir=tmp_path)
    store.close()


def put(ctx, key: str, body: bytes):
    staged, md5_hex, size = storage.write_staged(objects.bucket_dir(ctx, "bucket"), [body], sync=False)
    return objects.put_object(ctx, "bucket", key, staged, md5_hex, size)


def test_a_put_is_readable_once_put_object_returns(ctx):
    objects.create_bucket(ctx, "bucket")
    put(ctx, "k", b"new bytes")
    found = objects.head_object(ctx, "bucket", "k")
    assert found.path.read_bytes() == b"new bytes"
    assert found.etag == hashlib.md5(b"new bytes").hexdigest()


def test_a_failed_fsync_fails_the_put_and_keeps_the_old_object(ctx, monkeypatch):
    objects.create_bucket(ctx, "bucket")
    put(ctx, "k", b"old bytes")

    def failing_fsync(path):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(storage, "_fsync_file", failing_fsync)
    with pytest.raises(OSError):
        put(ctx, "k", b"new bytes, never on the disk")
    assert objects.head_object(ctx, "bucket", "k").path.read_bytes() == b"old bytes"
    staging = objects.bucket_dir(ctx, "bucket") / ".elmr" / "staging"
    assert list(staging.iterdir()) == []


def test_a_version_written_within_the_same_clock_tick_is_told_apart(ctx):
    """A reader checks the file it opened against the version it looked up by size and
    mtime (objects.open_object). ext4's clock is coarse (~4 ms): a version of the same
    size written within the same tick must still get a later mtime, or a reader that
    looked up the old version and opened the new file would send it under the old ETag."""
    objects.create_bucket(ctx, "bucket")
    put(ctx, "k", b"version 1")
    looked_up = objects.head_object(ctx, "bucket", "k")
    staged, md5_hex, size = storage.write_staged(objects.bucket_dir(ctx, "bucket"), [b"version 2"], sync=False)
    os.utime(staged, ns=(looked_up.mtime_ns, looked_up.mtime_ns))  # the same tick as version 1
    objects.put_object(ctx, "bucket", "k", staged, md5_hex, size)
    opened_after = os.stat(looked_up.path)
    assert (opened_after.st_size, opened_after.st_mtime_ns) != (looked_up.size, looked_up.mtime_ns)
    view, handle = objects.open_object(ctx, "bucket", "k")
    with handle:
        assert (handle.read(), view.etag) == (b"version 2", hashlib.md5(b"version 2").hexdigest())
