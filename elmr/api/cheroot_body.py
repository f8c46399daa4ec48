"""A request body of known length read straight from cheroot's socket into one
reused buffer.

Read through cheroot's buffered reader and werkzeug's stream over it, every 1 MiB of
body was allocated, zero-filled and copied several times: against a server that only
discards the body, ~0.5 s of CPU per GiB more than `readinto` (measured with cheroot's
own `_pyio` reader, before socket_reader.py), in a server whose large PUTs are
CPU-bound (MD5, SHA-256 and CRC32 of every byte). The bytes the reader has buffered
already come first; the rest goes from the socket into the buffer."""

from typing import Iterator

from cheroot.makefile import StreamReader
from cheroot.server import KnownLengthRFile

from elmr.api.http_request import cut_short
from elmr.api.socket_reader import SocketReader

BUFFER_SIZE = 1024 * 1024


def socket_chunks(environ: dict, length: int) -> Iterator[memoryview] | None:
    """The body's `length` bytes in chunks, or None when the server is not cheroot
    reading a Content-Length body. Each chunk is a view of one reused buffer: use it
    before asking for the next."""
    wsgi_input = environ.get("wsgi.input")
    if not isinstance(wsgi_input, KnownLengthRFile) or not isinstance(wsgi_input.rfile, (StreamReader, SocketReader)):
        return None
    if wsgi_input.remaining != length:
        return None  # something read from the body already
    return _chunks(wsgi_input, wsgi_input.rfile, length)


def _chunks(wsgi_input: KnownLengthRFile, reader: StreamReader | SocketReader, length: int) -> Iterator[memoryview]:
    remaining = length
    # What the reader holds already, taken once: SocketReader.has_data may pull more
    # from the socket into its small buffer, and looping on it would read the whole
    # body through that buffer a few KiB at a time.
    if remaining and reader.has_data():
        buffered = reader.read1(min(remaining, BUFFER_SIZE))
        remaining -= len(buffered)
        yield memoryview(buffered)
    buffer = memoryview(bytearray(min(BUFFER_SIZE, remaining)))
    while remaining:
        wanted = min(len(buffer), remaining)
        filled = 0
        while filled < wanted:
            received = reader.raw.readinto(buffer[filled:wanted])
            if not received:
                raise cut_short()
            filled += received
        remaining -= filled
        yield buffer[:filled]
    # What cheroot counts: the body is consumed, so the connection can be kept alive.
    wsgi_input.remaining = 0
    reader.bytes_read += length
