"""Request bodies as S3 clients send them: plain, or `aws-chunked` (what current
botocore sends by default, with the checksum in a trailer), decoded into the object's
bytes; and the checksums (Content-MD5, x-amz-checksum-*) verified against them."""

import base64
import functools
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Iterator

from awscrt import checksums
from zlib_ng import zlib_ng

from elmr.api import cheroot_body
from elmr.api.http_request import MalformedBody, cut_short
from elmr.api.sigv4 import ChunkSignatures, VerifiedRequest
from elmr.objectstore.errors import S3Error

CHUNK = 1024 * 1024


class Crc32:
    """zlib-ng's CRC32 (carry-less multiplication): ~0.1 s per GiB on the benchmark's
    VM where the system zlib takes ~0.36 s, in a server whose large PUTs are CPU-bound."""

    def __init__(self):
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib_ng.crc32(data, self.value)

    def b64(self) -> str:
        return base64.b64encode(self.value.to_bytes(4, "big")).decode()


class CrtCrc:
    """CRC32C or CRC64/NVME from awscrt, the AWS Common Runtime that botocore and the
    AWS CLI v2 use for them (hardware CRC instructions, GB/s). The AWS CLI v2 sends a
    CRC64/NVME with every upload by default; a table-driven CRC in Python took ~0.1 s
    per MiB, longer than the upload itself."""

    def __init__(self, crc, width: int):
        self.crc = crc  # awscrt.checksums' function: (data, previous value) -> value
        self.value = 0
        self.width_bytes = width // 8

    def update(self, data: bytes) -> None:
        self.value = self.crc(data, self.value)

    def b64(self) -> str:
        return base64.b64encode(self.value.to_bytes(self.width_bytes, "big")).decode()


class _Digest:
    def __init__(self, name: str):
        self.hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self.hash.update(data)

    def b64(self) -> str:
        return base64.b64encode(self.hash.digest()).decode()


CHECKSUMS = {
    "x-amz-checksum-crc32": Crc32,
    "x-amz-checksum-crc32c": lambda: CrtCrc(checksums.crc32c, 32),
    "x-amz-checksum-crc64nvme": lambda: CrtCrc(checksums.crc64nvme, 64),
    "x-amz-checksum-sha1": lambda: _Digest("sha1"),
    "x-amz-checksum-sha256": lambda: _Digest("sha256"),
}


MAX_LINE = 4096  # a chunk header (size and signature) or a trailer line
MAX_TRAILER_LINES = 64
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if not line.endswith(b"\n"):
        if len(line) > MAX_LINE:
            raise _malformed("a line is too long")
        raise cut_short()
    return line.rstrip(b"\r\n")


def _malformed(what: str) -> MalformedBody:
    return MalformedBody("InvalidRequest", f"Malformed aws-chunked body: {what}.")


def _chunk_header(stream: BinaryIO) -> tuple[int, str | None]:
    """(the chunk's size, its chunk-signature if it has one) from `size[;chunk-signature=…]`."""
    size_field, _, extension = _line(stream).partition(b";")
    size_field = size_field.strip()
    if not size_field or len(size_field) > 15 or not _HEX_DIGITS.issuperset(size_field):
        raise _malformed(f"bad chunk size {size_field[:20]!r}")
    name, _, signature = extension.partition(b"=")
    signed = name.strip() == b"chunk-signature"
    return int(size_field, 16), signature.strip().decode("latin-1") if signed else None


def aws_chunked(stream: BinaryIO, trailers: dict, signatures: ChunkSignatures | None = None) -> Iterator[bytes]:
    """Decode `size[;chunk-signature=…]\\r\\n data \\r\\n` chunks, each chunk's signature
    checked when the body is signed (`signatures`); the trailer lines after the
    zero-size chunk (`x-amz-checksum-crc32:…`) go into `trailers`."""
    while True:
        size, signature = _chunk_header(stream)
        if signatures is not None and signature is None:
            raise _malformed("a chunk of a signed body has no chunk-signature")
        digest = hashlib.sha256() if signatures is not None else None
        remaining = size
        while remaining:
            data = stream.read(min(CHUNK, remaining))
            if not data:
                raise cut_short()
            remaining -= len(data)
            if digest is not None:
                digest.update(data)
            yield data
        if size and stream.read(2) != b"\r\n":
            raise _malformed("a chunk is not followed by CRLF")
        if signatures is not None:
            signatures.check_chunk(digest.hexdigest(), signature)
        if size == 0:
            break
    _read_trailer(stream, trailers, signatures)


def _read_trailer(stream: BinaryIO, trailers: dict, signatures: ChunkSignatures | None) -> None:
    """`name:value` lines up to an empty one (or the body's end); a signed body's
    trailer ends with its own signature (x-amz-trailer-signature)."""
    signed_lines = b""
    for _ in range(MAX_TRAILER_LINES):
        line = stream.readline(MAX_LINE + 1).rstrip(b"\r\n")
        if not line:
            if signatures is not None and signed_lines:
                raise _malformed("the trailer has no x-amz-trailer-signature")
            return
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature" and signatures is not None:
            signatures.check_trailer(signed_lines, value)
            signed_lines = b""
            continue
        signed_lines += f"{name}:{value}\n".encode("latin-1")
        trailers[name] = value
    raise _malformed("the trailer is too long")


def until_the_end(stream: BinaryIO) -> Iterator[bytes]:
    """A body whose length the request does not say (Transfer-Encoding: chunked)."""
    while data := stream.read(CHUNK):
        yield data


def plain(stream: BinaryIO, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        data = stream.read(min(CHUNK, remaining))
        if not data:
            raise cut_short()
        remaining -= len(data)
        yield data


def checksum_header(algorithm: str) -> str:
    """x-amz-checksum-crc32 for CRC32, …: the header (and trailer) of an algorithm."""
    return f"x-amz-checksum-{algorithm.lower()}"


def composite_checksum(algorithm: str, part_values: list[str]) -> str:
    """S3's checksum of a multipart object built from its parts' (COMPOSITE): the
    algorithm over the parts' checksums, then `-N`."""
    checksum = CHECKSUMS[checksum_header(algorithm)]()
    for value in part_values:
        checksum.update(base64.b64decode(value))
    return f"{checksum.b64()}-{len(part_values)}"


class BodyCheck:
    """Collects what the headers (and, once read, the trailer) promise of the body,
    and checks it after the body was written to its staging file. `wanted`: an
    algorithm whose checksum is kept with the object even if the request sends none
    (x-amz-sdk-checksum-algorithm, or the algorithm a multipart upload asked for)."""

    def __init__(self, headers, trailer_names: list[str], wanted: str | None = None):
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.trailers: dict = {}
        wanted = wanted or self.headers.get("x-amz-sdk-checksum-algorithm")
        names = set(trailer_names) | {n for n in CHECKSUMS if n in self.headers}
        self.wanted = checksum_header(wanted) if wanted and checksum_header(wanted) in CHECKSUMS else None
        if self.wanted:
            names.add(self.wanted)
        self.checksums = {name: CHECKSUMS[name]() for name in names if name in CHECKSUMS}
        # The payload's SHA-256, only when the client signed one (not UNSIGNED-PAYLOAD
        # or STREAMING-…): hashing costs as much as writing the body.
        declared = self.headers.get("x-amz-content-sha256", "")
        self.sha256 = hashlib.sha256() if len(declared) == 64 else None

    def observers(self) -> list:
        return [*self.checksums.values(), *([self.sha256] if self.sha256 else [])]

    def verify(self, md5_hex: str) -> None:
        content_md5 = self.headers.get("content-md5")
        if content_md5 is not None:
            if base64.b64encode(bytes.fromhex(md5_hex)).decode() != content_md5:
                raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
        for name, checksum in self.checksums.items():
            expected = self.trailers.get(name) or self.headers.get(name)
            if expected is not None and checksum.b64() != expected:
                raise _bad_digest(name)
        if self.sha256 and self.headers["x-amz-content-sha256"] != self.sha256.hexdigest():
            raise S3Error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                          "header does not match what was computed.", 400)

    def stored(self) -> dict | None:
        """The checksum the object keeps (verified): the one the request sent, or the
        one it asked for; None without either."""
        sent = [name for name in self.checksums if self.trailers.get(name) or self.headers.get(name)]
        name = sent[0] if sent else self.wanted
        if name is None:
            return None
        return {"algorithm": name[len("x-amz-checksum-"):].upper(), "value": self.checksums[name].b64(),
                "type": "FULL_OBJECT"}


class RequestBody:
    """A PUT's body as the object's bytes: `chunks` decoded (plain, aws-chunked, in
    HTTP chunks or not), `size` as the request declares it (None if it does not), and
    `verify` to call once they were all written. `verified`: the request's checked
    signature, which the chunks of a signed aws-chunked body chain from."""

    def __init__(self, headers, stream: BinaryIO, content_length: int | None, environ: dict,
                 verified: VerifiedRequest | None = None, wanted_checksum: str | None = None):
        content_sha = headers.get("X-Amz-Content-SHA256", "")
        chunked = "aws-chunked" in headers.get("Content-Encoding", "") or content_sha.startswith("STREAMING-")
        trailer_names = [n.strip().lower() for n in headers.get("X-Amz-Trailer", "").split(",") if n.strip()]
        self.check = BodyCheck(headers, trailer_names, wanted_checksum)
        if chunked:
            signed = content_sha.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
            if signed and (verified is None or verified.presigned):
                raise _malformed("a signed chunked body needs a signed Authorization header")
            self.chunks = aws_chunked(stream, self.check.trailers, ChunkSignatures(verified) if signed else None)
            decoded = headers.get("X-Amz-Decoded-Content-Length", "")
            self.size = int(decoded) if decoded.isdigit() else None
        elif content_length is None and environ.get("wsgi.input_terminated"):
            self.size, self.chunks = None, until_the_end(stream)  # Transfer-Encoding: chunked
        else:
            self.size = content_length or 0
            self.chunks = cheroot_body.socket_chunks(environ, self.size) or plain(stream, self.size)

    def observers(self) -> list:
        return self.check.observers()

    def verify(self, md5_hex: str, size: int) -> None:
        if self.size is not None and size != self.size:
            raise S3Error("IncompleteBody", "The decoded body is not as long as declared.", 400)
        self.check.verify(md5_hex)

    def stored_checksum(self) -> dict | None:
        return self.check.stored()


def _bad_digest(checksum_header: str) -> S3Error:
    return S3Error("BadDigest", f"The {checksum_header[len('x-amz-checksum-'):].upper()} you "
                   "specified did not match the calculated checksum.", 400)


# The checksums of a whole multipart object that S3 can check (ChecksumType FULL_OBJECT).
FULL_OBJECT_CHECKSUMS = ("x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme")


def full_object_check(headers) -> Callable[[Path], None] | None:
    """The check a CompleteMultipartUpload asks for with a checksum of the whole object:
    a function that reads the assembled file and raises BadDigest unless it matches.
    None without one, or with a composite checksum (`…-N`, a checksum of the parts'
    checksums: elmr keeps none of those; each part was verified as it came)."""
    for name in FULL_OBJECT_CHECKSUMS:
        expected = headers.get(name)
        if expected and not re.search(r"-\d+$", expected):
            return functools.partial(_verify_file, name, expected)
    return None


def _verify_file(checksum_header: str, expected: str, path: Path) -> None:
    checksum = CHECKSUMS[checksum_header]()
    with open(path, "rb") as assembled:
        while data := assembled.read(8 * CHUNK):
            checksum.update(data)
    if checksum.b64() != expected:
        raise _bad_digest(checksum_header)
