"""A stored file's byte range as a WSGI response body (GetObject, a copy's source, a
node's object fetch). Kept in the api layer: it is how bytes leave on the wire."""

import fcntl
import socket
import struct
import termios
from typing import BinaryIO, Iterator, Self

from elmr.objectstore.page_cache import DropBehind

CHUNK = 1024 * 1024
SEND_CHUNK = 8 * CHUNK  # per sendfile call; between calls, what was delivered is dropped from the cache


class FileRange:
    """Bytes start..end (inclusive) of a stored file, as a WSGI response body: any
    server iterates it in chunks; elmr's server sends it with sendfile instead
    (api/sendfile.py), the kernel copying from the page cache to the socket without
    the bytes passing through Python. A large range is dropped from the page cache
    behind the reader either way (page_cache.py says why).

    The file comes opened (objects.open_object): the bytes sent are those of the file
    the object's metadata was checked against, even if a PUT replaces the object
    meanwhile. The range owns it from then on: close() (a WSGI server's, or the end
    of a `with` block) closes it."""

    def __init__(self, handle: BinaryIO, start: int, end: int):
        self.handle, self.start, self.length = handle, start, max(0, end - start + 1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.handle.close()

    def __iter__(self) -> Iterator[bytes]:
        with DropBehind(self.handle.fileno(), self.start) as behind:
            self.handle.seek(self.start)
            remaining = self.length
            while remaining > 0:
                chunk = self.handle.read(min(CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
                behind.passed(len(chunk))

    def send_to(self, sock: socket.socket) -> int:
        """Send the range down `sock`; returns the bytes sent, fewer than the length
        only if the file is shorter than the range."""
        with DropBehind(self.handle.fileno(), self.start) as behind:
            offset, remaining = self.start, self.length
            while remaining > 0:
                sent = sock.sendfile(self.handle, offset, min(SEND_CHUNK, remaining))
                if sent == 0:
                    break
                offset, remaining = offset + sent, remaining - sent
                # The socket holds on to the pages it has sent until the client
                # acknowledges them, and the kernel does not drop pages in use.
                behind.reached(offset - _unacknowledged(sock))
        return self.length - remaining


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes in the socket's send queue: not sent yet, or not acknowledged yet."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
