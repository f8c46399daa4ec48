"""A request's HTTP/1.1 framing as elmr's server reads it: cheroot's request with
the parts that let bad clients hurt the server replaced.

- `Transfer-Encoding: chunked` bodies are decoded by `ChunkedBody`. cheroot's own
  decoder loops forever in `readline(limit)` once a line is longer than the limit or
  reaches its newline (it never consumes the `\\n`): a pyarrow S3FileSystem write
  (aws-chunked data inside HTTP chunks) took a server thread to 100% CPU for good.
- The framing headers are checked before the app runs: a Content-Length that is not
  a plain number, one sent twice, or one beside Transfer-Encoding (the ways to
  smuggle a second request into a body) is a 400, and the connection is closed.
- The request line and headers must arrive within `head_timeout_s` of their first
  byte; a body may pause at most the socket timeout between two reads (the body's
  reader turns the pause into S3's RequestTimeout). So a slow client holds a worker
  thread for a bounded time.
- A body the app did not read whole is not read into memory afterwards (cheroot
  would read all that is left in one call, a 5 GiB `read()` for a refused 5 GiB
  PUT): a short rest is drained so the connection can be kept, anything longer
  closes it."""

import json
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

from cheroot.server import HeaderReader, HTTPRequest, KnownLengthRFile

# What is left of a refused body that is read and dropped to keep the connection.
DRAIN_LIMIT = 1024 * 1024
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions (chunk signatures are ~100 bytes)
MAX_TRAILER_LINES = 64
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class MalformedBody(ValueError):
    """The body is not what its framing promised: cut short (the client closed the
    connection, or stopped sending), or badly chunked. `code` is S3's name for it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def cut_short() -> MalformedBody:
    return MalformedBody("IncompleteBody", "The request body ended before the length its framing declares.")


class ChunkedBody:
    """The body of a `Transfer-Encoding: chunked` request, decoded: read(), readinto()
    and readline() as a file's, an empty read at its end. Malformed chunking (a size
    that is not hex, a chunk not followed by CRLF, an over-long line) and a body cut
    short raise MalformedBody."""

    def __init__(self, reader):
        self.reader = reader  # the connection's buffered socket reader
        self.left_in_chunk = 0
        self.finished = False
        self.pending = b""  # read from the chunks, not handed out yet (readline)
        self.bytes_read = 0  # what cheroot's statistics count

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_CHUNK_LINE + 1)
        self.bytes_read += len(line)
        if not line.endswith(b"\n"):
            if len(line) > MAX_CHUNK_LINE:
                raise MalformedBody("InvalidRequest", "A chunk-size line of the body is too long.")
            raise cut_short()
        return line.rstrip(b"\r\n")

    def _next_chunk(self) -> None:
        size_field = self._line().split(b";", 1)[0].strip()
        if not size_field or len(size_field) > 15 or not _HEX_DIGITS.issuperset(size_field):
            raise MalformedBody("InvalidRequest", f"Bad chunk size {size_field[:20]!r} in the chunked body.")
        self.left_in_chunk = int(size_field, 16)
        if self.left_in_chunk == 0:
            self._skip_trailer()
            self.finished = True

    def _skip_trailer(self) -> None:
        """HTTP's trailer section (S3's checksums come inside the aws-chunked data)."""
        for _ in range(MAX_TRAILER_LINES):
            if not self._line():
                return
        raise MalformedBody("InvalidRequest", "The chunked body's trailer is too long.")

    def _read_chunk_data(self, size: int) -> bytes:
        """At most `size` bytes of the current chunk (at least one: waits for it)."""
        while self.left_in_chunk == 0 and not self.finished:
            self._next_chunk()
        if self.finished:
            return b""
        data = self.reader.read1(min(size, self.left_in_chunk))
        if not data:
            raise cut_short()
        self.bytes_read += len(data)
        self.left_in_chunk -= len(data)
        if self.left_in_chunk == 0:
            end = self.reader.read(2)
            self.bytes_read += len(end)
            if end != b"\r\n":
                raise cut_short() if len(end) < 2 else MalformedBody(
                    "InvalidRequest", "A chunk of the chunked body is longer than its size says.")
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self.pending]
            self.pending = b""
            while data := self._read_chunk_data(1024 * 1024):
                parts.append(data)
            return b"".join(parts)
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        return self._read_chunk_data(size) if size else b""

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self, limit: int | None = -1) -> bytes:
        """A line ending with `\\n`, or `limit` bytes (or the body's end) without one."""
        limit = limit if limit is not None and limit >= 0 else None
        while b"\n" not in self.pending and (limit is None or len(self.pending) < limit):
            data = self._read_chunk_data(8192)
            if not data:
                break
            self.pending += data
        end = self.pending.find(b"\n") + 1 or len(self.pending)
        if limit is not None:
            end = min(end, limit)
        line, self.pending = self.pending[:end], self.pending[end:]
        return line

    def unfinished(self) -> bool:
        return not self.finished or bool(self.pending)


@dataclass(frozen=True)
class FramingProblem:
    message: str
    status: int = 400
    s3_code: str = "InvalidArgument"


class _FramingHeaderReader(HeaderReader):
    """cheroot's header reader (one per request), noting what is wrong with the
    Content-Length: cheroot keeps the last of two, and answers a malformed one in
    plain text before the app could answer in the request's own shape."""

    def __init__(self):
        self.content_lengths_seen = 0
        self.problem: FramingProblem | None = None

    def __call__(self, rfile, hdict=None):
        headers = super().__call__(rfile, hdict)
        content_length = headers.get(b"Content-Length")
        codings = headers.get(b"Transfer-Encoding")
        if self.content_lengths_seen > 1:
            self.problem = FramingProblem("Content-Length is given more than once.")
        elif content_length is not None and not content_length.isdigit():
            self.problem = FramingProblem(
                f"Content-Length {content_length[:40].decode('latin-1')!r} is not a number of bytes.")
        elif codings is not None and any(c.strip().lower() != b"chunked" for c in codings.split(b",")):
            self.problem = FramingProblem("A header you provided implies functionality that is not implemented",
                                          501, "NotImplemented")
        if self.problem is not None:  # refused once the head is read (ElmrHTTPRequest)
            headers[b"Content-Length"] = b"0"
            headers.pop(b"Transfer-Encoding", None)
        return headers

    def _allow_header(self, key_name: bytes) -> bool:
        if key_name.lower() == b"content-length":
            self.content_lengths_seen += 1
        return super()._allow_header(key_name)


class ElmrHTTPRequest(HTTPRequest):
    """cheroot's request with elmr's framing checks, body reader and deadlines."""

    def __init__(self, server, conn, **kwargs):
        super().__init__(server, conn, **kwargs)
        self.header_reader = _FramingHeaderReader()

    def parse_request(self) -> None:
        reader = self.conn.rfile
        if not hasattr(reader, "set_deadline"):  # a TLS adapter's own reader: cheroot's behaviour
            return super().parse_request()
        reader.set_deadline(time.monotonic() + self.server.head_timeout_s)
        try:
            super().parse_request()
        finally:
            reader.set_deadline(None)
        if self.ready and not self._framing_is_sound():
            self.ready = False

    def _framing_is_sound(self) -> bool:
        problem = self.header_reader.problem
        if problem is None and b"Content-Length" in self.inheaders and self.chunked_read:
            problem = FramingProblem("A request may not have both Content-Length and Transfer-Encoding.")
        if problem is None:
            return True
        self._refuse_framing(problem)
        return False

    def _refuse_framing(self, problem: FramingProblem) -> None:
        """The refusal in the shape of the request's family (EMR's JSON if it names an
        X-Amz-Target, else S3's XML), and the connection closed: what follows the
        headers cannot be told apart from a next request."""
        if b"X-Amz-Target" in self.inheaders:
            content_type, body = "application/x-amz-json-1.1", json.dumps(
                {"__type": "ValidationException", "message": problem.message})
        else:
            content_type, body = "application/xml", (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{problem.s3_code}</Code>'
                f"<Message>{escape(problem.message)}</Message></Error>")
        encoded = body.encode()
        reason = "Bad Request" if problem.status == 400 else "Not Implemented"
        self.close_connection = True
        self.conn.body_still_arriving = True
        self.conn.wfile.write(
            f"{self.server.protocol} {problem.status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(encoded)}\r\nConnection: close\r\n\r\n".encode("latin-1") + encoded)

    def respond(self) -> None:
        """As cheroot's, with ChunkedBody for chunked bodies."""
        if self.chunked_read:
            self.rfile = ChunkedBody(self.conn.rfile)
        else:
            self.rfile = KnownLengthRFile(self.conn.rfile, int(self.inheaders.get(b"Content-Length", 0)))
        self.server.gateway(self).respond()
        if self.ready:
            self.ensure_headers_sent()
        if self.chunked_write:
            self.conn.wfile.write(b"0\r\n\r\n")

    def send_headers(self) -> None:
        """Before the answer goes out, decide what becomes of a body the app left
        unread (cheroot reads what is left in one call, and ignores chunked rests)."""
        if not self.close_connection and self._unread_body_too_long():
            self.close_connection = True
            # Unless the client has stopped sending, more of the body may be on its way.
            self.conn.body_still_arriving = not getattr(self.conn.rfile, "timed_out", False)
        super().send_headers()

    def _unread_body_too_long(self) -> bool:
        if isinstance(self.rfile, ChunkedBody):
            return self.rfile.unfinished()
        remaining = getattr(self.rfile, "remaining", 0)
        return remaining > DRAIN_LIMIT or getattr(self.conn.rfile, "timed_out", False)
