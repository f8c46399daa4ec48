"""Large bodies and the page cache: a body being written is flushed to the disk in
the background as it arrives and dropped from the page cache once flushed; a large
range being read is dropped behind the reader. Bodies and ranges under LARGE bytes
are left to the kernel as they are.

Why flush early: an acknowledged write must be on the disk, so a large body ends with
fdatasync, and that call is where the disk's time goes: the kernel hands dirty pages
to the device quickly, but the cache flush that makes them durable costs ~1.5 s per
GiB on the VM the benchmark runs on, with the CPU idle. Waited for at the end, it
stalls the request (and a client sending parts in waves stalls with it). Flushed in
the background as the bytes arrive, the disk's time overlaps the receiving and
hashing, and the final fdatasync finds little left: 4 writers hashing and writing
1 GiB into one file took 2.6–2.9 s instead of 3.7–4.0 s side by side.

Why drop: filling newly allocated page-cache pages cost the server ~1.9 s of CPU per
GiB written on that VM (perf: `rep_movs` under `generic_perform_write`, 18% of all
samples of a 1 GiB multipart PUT), while pages the kernel has just freed are cheap to
fill again. Dropped as it goes, a 1 GiB write or read recycles a few MiB of pages
instead of taking a GiB of new ones (server CPU for a 1 GiB PUT: sys 2.8 → 1.4 s; for
a cold 1 GiB GET: sys ~1.0 → ~0.6 s, and the client's own writes get cheaper too),
and one large object no longer pushes everything else out of the cache. The price:
reading a large object again through the S3 API reads it from the disk again (Spark
reads the files directly and is not affected). Object stores built for large objects
do the same (O_DIRECT or fadvise DONTNEED), for the same reasons.

Ranges sent with sendfile (api/sendfile.py) are dropped later than ranges copied: the
socket holds on to the pages it sends until they are delivered, and the kernel skips
pages in use, so the sender drops only what the client has acknowledged. On loopback
the client's receive queue holds acknowledged pages too (up to its buffer, a few MiB),
and the kernel reads ahead past a range's end: a 1 GiB object read by boto3 as 16
ranges of 64 MiB leaves ~260–310 MiB cached (~100 MiB when the server copied the
bytes). That is the price of the server's CPU per GiB read going from ~1.1 s to ~0.2 s.

One flushing thread serves the whole process: flushes queue behind each other, as
they would at the device, and a flush of a file also covers what other writers of
the same file have written."""

import os
from concurrent.futures import Future, ThreadPoolExecutor, wait

LARGE = 16 * 1024 * 1024  # bytes between background flushes, and between drops

_flusher = ThreadPoolExecutor(1, thread_name_prefix="elmr-flush")


class BackgroundFlush:
    """Counts what is written to `descriptor` from `offset` on, and every LARGE bytes
    starts, in the background, an fdatasync and then the dropping of those bytes from
    the page cache (only clean pages are dropped: nothing unwritten is lost); at most
    one at a time. Use as a context manager around the writing, inside the
    descriptor's lifetime: leaving waits for the flush under way, so none runs on a
    closed descriptor, and raises its error when the writing itself succeeded (the
    kernel reports a failed writeback once per open file, so the final fdatasync would
    not see it again)."""

    def __init__(self, descriptor: int, offset: int = 0):
        self.descriptor = descriptor
        self.flushed_upto = offset  # bytes before this one are on the disk, or on their way
        self.position = offset
        self.under_way: Future | None = None

    def wrote(self, count: int) -> None:
        self.position += count
        if self.position - self.flushed_upto < LARGE:
            return
        if self.under_way is not None:
            if not self.under_way.done():
                return  # flushes later: the one under way covers less, not nothing
            self.under_way.result()  # raises a failed flush's error now
        self.under_way = _flusher.submit(_flush_and_drop, self.descriptor, self.flushed_upto, self.position)
        self.flushed_upto = self.position

    def __enter__(self) -> "BackgroundFlush":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.under_way is None:
            return
        wait([self.under_way])
        if kind is None:
            self.under_way.result()


def _flush_and_drop(descriptor: int, start: int, end: int) -> None:
    """Flush the whole file, then drop this writer's bytes [start, end)."""
    os.fdatasync(descriptor)
    os.posix_fadvise(descriptor, start, end - start, os.POSIX_FADV_DONTNEED)


class DropBehind:
    """Counts what is read from `descriptor` from `offset` on, and drops it from the
    page cache every LARGE bytes, and the rest when a large read ends. Use as a
    context manager around the reading; call `passed` or `reached` as the bytes read
    are handed on."""

    def __init__(self, descriptor: int, offset: int):
        self.descriptor = descriptor
        self.start = self.dropped_upto = self.position = offset

    def passed(self, count: int) -> None:
        self.reached(self.position + count)

    def reached(self, position: int) -> None:
        self.position = position
        if self.position - self.dropped_upto >= LARGE:
            self._drop()

    def _drop(self) -> None:
        if self.position > self.dropped_upto:
            os.posix_fadvise(self.descriptor, self.dropped_upto, self.position - self.dropped_upto,
                             os.POSIX_FADV_DONTNEED)
            self.dropped_upto = self.position

    def __enter__(self) -> "DropBehind":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.position - self.start >= LARGE:
            self._drop()
