"""How fast boto3 itself can download and upload on this machine: a fake S3 server
that answers HeadObject and ranged GetObject for any key from bytes in memory, and
takes multipart uploads by reading each part's body and dropping it (no disk, no
auth, no checksums, no hashing), in a process of its own. boto3's `download_file` and
`upload_file` with it are what boto3 reaches when the server costs next to nothing,
ceilings for any real server's GET and PUT through boto3; s3_throughput.py samples
them beside each of elmr's."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from elmr.launcher import free_port, poll_until, port_answers

BLOCK = 64 * 1024 * 1024  # the fake object is this block of random bytes, repeated


class InMemoryFakeS3Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 expects
    size = 0
    block = memoryview(b"")

    def do_HEAD(self) -> None:
        self._answer(200, self.size, {})

    def do_GET(self) -> None:
        first, _, last = self.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
        start, end = int(first), min(int(last or self.size - 1), self.size - 1)
        self._answer(206, end - start + 1, {"Content-Range": f"bytes {start}-{end}/{self.size}"})
        while start <= end:
            offset = start % len(self.block)
            count = min(end + 1 - start, len(self.block) - offset)
            self.wfile.write(self.block[offset:offset + count])
            start += count

    def do_PUT(self) -> None:
        """PutObject or UploadPart: the body read and dropped."""
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining > 0:
            remaining -= len(self.rfile.read(min(remaining, 1024 * 1024)))
        self._answer(200, 0, {})

    def do_POST(self) -> None:
        """CreateMultipartUpload (`?uploads`) or CompleteMultipartUpload (`?uploadId=`)."""
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        bucket, _, key = self.path.split("?")[0].lstrip("/").partition("/")
        if self.path.endswith("?uploads"):
            result = (f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
                      "<UploadId>fake</UploadId></InitiateMultipartUploadResult>")
        else:
            result = (f"<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
                      '<ETag>"fake-1"</ETag></CompleteMultipartUploadResult>')
        document = f'<?xml version="1.0" encoding="UTF-8"?>\n{result}'.encode()
        self._answer(200, len(document), {"Content-Type": "application/xml"})
        self.wfile.write(document)

    def _answer(self, status: int, length: int, headers: dict) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(length), "ETag": '"fake"', "Content-Type": "binary/octet-stream",
                            "Last-Modified": "Wed, 25 Nov 2026 00:00:00 GMT", **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def serve(port: int, size: int) -> None:
    InMemoryFakeS3Handler.size = size
    InMemoryFakeS3Handler.block = memoryview(os.urandom(min(size, BLOCK)))
    ThreadingHTTPServer(("127.0.0.1", port), InMemoryFakeS3Handler).serve_forever()


@contextmanager
def in_memory_fake_s3(size: int) -> Iterator[str]:
    """The fake serving an object of `size` bytes under any key, for as long as the
    context lasts; yields its endpoint URL."""
    port = free_port()
    fake = subprocess.Popen([sys.executable, __file__, str(port), str(size)], start_new_session=True)
    try:
        poll_until(lambda: port_answers(port), 30, what="the in-memory fake S3 server")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(fake.pid, signal.SIGTERM)
        fake.wait(30)


if __name__ == "__main__":
    _, port, size = sys.argv
    serve(int(port), int(size))
