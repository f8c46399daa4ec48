"""cheroot's socket reader, on the C BufferedReader, with a deadline.

cheroot reads every request through a `_pyio` (pure-Python) BufferedReader, whose
readline peeks and reads a few bytes at a time in Python: the request line and the
dozen header lines of a boto3 PUT took ~180 µs of CPU to read, ~50 µs with this reader
(measured over a socket pair; the server's whole CPU for a 64 KiB PUT was ~4 ms).
This reader has the same interface as cheroot's `StreamReader` (the byte count for its
statistics, `has_data` for pipelined requests) over the standard library's C one.

The socket's timeout bounds each wait for bytes; a deadline (http_request.py sets one
while a request's head is read) bounds all of them together, so that a client
sending its headers a byte at a time cannot hold a worker thread for long."""

import io
import socket
import time
from contextlib import suppress

from cheroot.makefile import MakeFile
from cheroot.server import HTTPConnection

from elmr.api.http_request import ElmrHTTPRequest


class DeadlineSocketIO(socket.SocketIO):
    """The socket's raw reads, each one waiting no longer than the socket's timeout
    nor past the deadline (raising TimeoutError, as a timed-out read does)."""

    def __init__(self, sock: socket.socket, mode: str):
        super().__init__(sock, mode)
        self.deadline: float | None = None  # time.monotonic() value

    def readinto(self, buffer) -> int | None:
        if self.deadline is None:
            return super().readinto(buffer)
        idle_timeout = self._sock.gettimeout()
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._timeout_occurred = True
            raise TimeoutError("timed out")
        if idle_timeout is not None and left >= idle_timeout:
            return super().readinto(buffer)
        self._sock.settimeout(left)
        try:
            return super().readinto(buffer)
        finally:
            with suppress(OSError):
                self._sock.settimeout(idle_timeout)


class SocketReader(io.BufferedReader):
    def __init__(self, sock: socket.socket, mode: str = "rb", bufsize: int = io.DEFAULT_BUFFER_SIZE):
        super().__init__(DeadlineSocketIO(sock, mode), bufsize)
        self.sock = sock
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def set_deadline(self, deadline: float | None) -> None:
        self.raw.deadline = deadline

    @property
    def timed_out(self) -> bool:
        """A read timed out: the connection can carry no further request."""
        return self.raw._timeout_occurred

    def has_data(self) -> bool:
        """Whether a next request can be read without waiting: cheroot hands the
        connection straight to a worker then, since the selector only sees the socket.
        The C reader does not show its buffer, so peek with the socket non-blocking:
        buffered bytes come back as they are, an empty socket gives b""."""
        timeout = self.sock.gettimeout()
        try:
            self.sock.settimeout(0.0)
            return bool(self.peek(1))
        except OSError:
            return False  # a broken connection: the selector finds it and closes it
        finally:
            with suppress(OSError):
                self.sock.settimeout(timeout)


def make_file(sock: socket.socket, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE):
    return SocketReader(sock, mode, bufsize) if "r" in mode else MakeFile(sock, mode, bufsize)


# A connection closed with a request body still arriving is read from for this long
# (and this much) first: closed at once, the kernel answers the client's next bytes
# with a reset, which can destroy the answer before the client has read it.
LINGER_S = 2.0
LINGER_BYTES = 4 * 1024 * 1024


class Connection(HTTPConnection):
    """cheroot's connection reading through SocketReader, its requests read by
    http_request.py; TLS adapters bring their own file objects and keep them."""

    RequestHandlerClass = ElmrHTTPRequest

    def __init__(self, server, sock, makefile=MakeFile):
        super().__init__(server, sock, make_file if makefile is MakeFile else makefile)
        self.body_still_arriving = False  # set by the request that closes the connection

    def close(self) -> None:
        if self.body_still_arriving and type(self.socket) is socket.socket:
            self._linger()
        super().close()

    def _linger(self) -> None:
        """Send our side's end, then drop what the client still sends, for a while."""
        deadline = time.monotonic() + LINGER_S
        with suppress(OSError):
            self.wfile.flush()
            self.socket.shutdown(socket.SHUT_WR)
            dropped = 0
            while dropped < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.socket.settimeout(left)
                received = self.socket.recv(64 * 1024)
                if not received:
                    break
                dropped += len(received)
