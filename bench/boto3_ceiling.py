"""How fast boto3 itself can download on this machine: `download_file` against a fake
S3 server that answers HeadObject and ranged GetObject for any key from bytes in
memory (no disk, no auth, no checksums) in a process of its own: what boto3 reaches
when the server costs next to nothing, a ceiling for any real server's GET through
boto3. s3_throughput.py measures it in its run and prints it next to elmr's GET."""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from boto3.s3.transfer import TransferConfig

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


def download_ceiling(client_for: Callable[[str], object], large_mib: int, repeats: int,
                     transfer: TransferConfig) -> float:
    """Median MiB/s of `repeats` downloads of a `large_mib` object from the fake, by
    the boto3 client `client_for(url)` makes."""
    port = free_port()
    fake = subprocess.Popen([sys.executable, __file__, str(port), str(large_mib * 2 ** 20)],
                            start_new_session=True)
    try:
        poll_until(lambda: port_answers(port), 30, what="the in-memory fake S3 server")
        s3 = client_for(f"http://127.0.0.1:{port}")
        with tempfile.TemporaryDirectory(prefix="elmr-bench-ceiling-") as scratch:
            target = Path(scratch) / "large.down"
            rates = []
            for _ in range(repeats):
                started = time.monotonic()
                s3.download_file("bench", "large", str(target), Config=transfer)
                rates.append(large_mib / (time.monotonic() - started))
                target.unlink()
        return statistics.median(rates)
    finally:
        os.killpg(fake.pid, signal.SIGTERM)
        fake.wait(30)


if __name__ == "__main__":
    _, port, size = sys.argv
    serve(int(port), int(size))
