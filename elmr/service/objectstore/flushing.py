"""Flushing a file to the disk in the background while it is being written, and
dropping what is flushed from the page cache.

Why flush early: an acknowledged write must be on the disk, so a large body ends with
fdatasync, and that call is where the disk's time goes: the kernel hands dirty pages
to the device quickly, but the cache flush that makes them durable costs ~1.5 s per
GiB on the VM the benchmark runs on, with the CPU idle. Waited for at the end, it
stalls the request (and a client sending parts in waves stalls with it). Flushed in
the background as the bytes arrive, the disk's time overlaps the receiving and
hashing, and the final fdatasync finds little left: 4 writers hashing and writing
1 GiB into one file took 2.6–2.9 s instead of 3.7–4.0 s side by side.

Why drop what is flushed: copying bytes into newly allocated page-cache pages cost
the server ~1.9 s of CPU per GiB on that VM (perf: `rep_movs` under
`generic_perform_write`, 18% of all samples of a 1 GiB multipart PUT), while pages
the kernel has just freed are cheap to fill again. Dropping each flushed range lets
a large write recycle a few MiB of pages instead of taking a GiB of new ones (server
CPU for the PUT: sys 2.8 → 1.4 s), and a 1 GiB upload no longer pushes everything
else out of the page cache; reading the object right after reads it from the disk.
Bodies under FLUSH_EVERY are never flushed early nor dropped.

One flushing thread serves the whole process: flushes queue behind each other, as
they would at the device, and a flush of a file also covers what other writers of
the same file have written."""

import os
from concurrent.futures import Future, ThreadPoolExecutor, wait

FLUSH_EVERY = 16 * 1024 * 1024  # bytes written between background flushes

_flusher = ThreadPoolExecutor(1, thread_name_prefix="elmr-flush")


class BackgroundFlush:
    """Counts what is written to `descriptor` from `offset` on, and every FLUSH_EVERY
    bytes starts, in the background, an fdatasync and then the dropping of those bytes
    from the page cache (only clean pages are dropped: nothing unwritten is lost); at
    most one at a time. Use as a context manager around the
    writing, inside the descriptor's lifetime: leaving waits for the flush under way,
    so none runs on a closed descriptor, and raises its error when the writing itself
    succeeded (the kernel reports a failed writeback once per open file, so the final
    fdatasync would not see it again)."""

    def __init__(self, descriptor: int, offset: int = 0):
        self.descriptor = descriptor
        self.flushed_upto = offset  # bytes before this one are on the disk, or on their way
        self.position = offset
        self.under_way: Future | None = None

    def wrote(self, count: int) -> None:
        self.position += count
        if self.position - self.flushed_upto < FLUSH_EVERY:
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
