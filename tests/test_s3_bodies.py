"""Request bodies as S3 clients send them: checksums (headers and trailers), signed
payloads, aws-chunked and HTTP-chunked bodies, framing that lies; and a fuzz test of
headers and bodies that must get 4xx, store nothing and leave the server answering."""

import base64
import hashlib
import hmac
import http.client
import os
import random
import re
import socket
import zlib
from datetime import datetime, timezone

import awscrt.checksums
import pytest
from botocore.exceptions import ClientError
from conftest import ElmrServer, code_of, free_port, s3_client, signed_headers

from elmr.api import sigv4
from elmr.service.errors import AuthError


def test_checksums_are_verified(s3, bucket):
    s3.put_object(Bucket=bucket, Key="crc", Body=b"hello", ChecksumAlgorithm="CRC32")  # trailer
    s3.put_object(Bucket=bucket, Key="sha", Body=b"hello", ChecksumAlgorithm="SHA256")
    good_md5 = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=b"hello", ContentMD5=good_md5)
    bad_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert code_of(s3.put_object, Bucket=bucket, Key="bad-md5", Body=b"hello", ContentMD5=bad_md5) == "BadDigest"
    assert code_of(s3.put_object, Bucket=bucket, Key="bad-crc", Body=b"hello", ChecksumCRC32="AAAAAA==") == "BadDigest"
    assert code_of(s3.head_object, Bucket=bucket, Key="bad-md5") == "404"
    # CRC32C and CRC64/NVME of b"123456789" are the algorithms' published check values.
    crc32c = base64.b64encode((0xE3069283).to_bytes(4, "big")).decode()
    crc64nvme = base64.b64encode((0xAE8B14860A799888).to_bytes(8, "big")).decode()
    s3.put_object(Bucket=bucket, Key="crc32c", Body=b"123456789", ChecksumCRC32C=crc32c)
    s3.put_object(Bucket=bucket, Key="crc64", Body=b"123456789", ChecksumCRC64NVME=crc64nvme)
    assert code_of(s3.put_object, Bucket=bucket, Key="bad-crc32c", Body=b"12345678",
                   ChecksumCRC32C=crc32c) == "BadDigest"
    assert code_of(s3.put_object, Bucket=bucket, Key="bad-crc64", Body=b"12345678",
                   ChecksumCRC64NVME=crc64nvme) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="crc")["Body"].read() == b"hello"

def test_crc32c_and_crc64nvme_computed_by_the_client_are_verified(server, s3, bucket, tmp_path):
    """The AWS CLI v2 sends a CRC64/NVME with every upload (`--checksum-algorithm
    CRC64NVME` is its default): a multipart `aws s3 cp` and boto3's own trailers over
    bodies of several chunks are taken, and the bytes come back whole."""
    body = os.urandom(20 * 1024 * 1024 + 123)
    (tmp_path / "cli-v2-default").write_bytes(body)
    server.aws("s3", "cp", "--checksum-algorithm", "CRC64NVME", str(tmp_path / "cli-v2-default"),
               f"s3://{bucket}/cp-crc64nvme")
    assert s3.get_object(Bucket=bucket, Key="cp-crc64nvme")["Body"].read() == body
    for algorithm in ("CRC32C", "CRC64NVME"):
        s3.put_object(Bucket=bucket, Key=algorithm, Body=body[:3 * 1024 * 1024 + 7], ChecksumAlgorithm=algorithm)
        assert s3.get_object(Bucket=bucket, Key=algorithm)["Body"].read() == body[:3 * 1024 * 1024 + 7]

def test_a_full_object_checksum_at_completion_is_verified(s3, bucket):
    """A CompleteMultipartUpload may carry the checksum of the whole object (ChecksumType
    FULL_OBJECT): one that does not match is BadDigest and the upload stays to complete."""
    body = os.urandom(6 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="whole", ChecksumAlgorithm="CRC64NVME",
                                        ChecksumType="FULL_OBJECT")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="whole", UploadId=upload, PartNumber=n,
                                                      Body=chunk)["ETag"]}
             for n, chunk in enumerate((body[:5 * 1024 * 1024], body[5 * 1024 * 1024:]), 1)]

    def crc64nvme(data: bytes) -> str:
        return base64.b64encode(awscrt.checksums.crc64nvme(data).to_bytes(8, "big")).decode()

    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="whole", UploadId=upload,
                   MultipartUpload={"Parts": parts}, ChecksumCRC64NVME=crc64nvme(body[:-1]),
                   ChecksumType="FULL_OBJECT") == "BadDigest"
    assert code_of(s3.head_object, Bucket=bucket, Key="whole") == "404"
    s3.complete_multipart_upload(Bucket=bucket, Key="whole", UploadId=upload, MultipartUpload={"Parts": parts},
                                 ChecksumCRC64NVME=crc64nvme(body), ChecksumType="FULL_OBJECT")
    assert s3.get_object(Bucket=bucket, Key="whole")["Body"].read() == body

def test_signed_payload_hash_is_checked_against_the_body(server, s3, bucket):
    host = f"127.0.0.1:{server.port}"

    def put(signed_body: bytes, sent_body: bytes) -> tuple[int, bytes]:
        headers = signed_headers(server, "PUT", f"http://{host}/{bucket}/hashed", {"Host": host}, signed_body)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("PUT", f"/{bucket}/hashed", body=sent_body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()

    status, error = put(b"signed body", b"other body!")
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in error
    assert code_of(s3.head_object, Bucket=bucket, Key="hashed") == "404"
    assert put(b"signed body", b"signed body")[0] == 200
    assert s3.get_object(Bucket=bucket, Key="hashed")["Body"].read() == b"signed body"


def send(server, method: str, path: str, headers: dict, body: bytes = b"", content_sha256: str = "UNSIGNED-PAYLOAD",
         extra_head: str = "", sign: bool = True) -> tuple[int, bytes]:
    """One request written by hand on a connection of its own (signed by botocore
    unless `sign` is False; `extra_head`: header lines added after signing), the
    connection's sending side shut once it is sent, so that a body shorter than its
    framing ends instead of keeping the server waiting. (status, body) of the answer."""
    host = f"127.0.0.1:{server.port}"
    headers = {"Host": host, **headers}
    if sign:
        headers = signed_headers(server, method, f"http://{host}{path}", headers, content_sha256=content_sha256)
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + extra_head
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\n" + body)
        connection.shutdown(socket.SHUT_WR)
        answer = http.client.HTTPResponse(connection, method=method)
        answer.begin()
        return answer.status, answer.read()


def http_chunks(*pieces: bytes, trailer: str = "") -> bytes:
    """`Transfer-Encoding: chunked` framing of `pieces`, one chunk each."""
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + f"0\r\n{trailer}\r\n".encode()


def aws_chunks(*pieces: bytes, trailer: str = "") -> bytes:
    """aws-chunked framing of `pieces` (unsigned), with trailer lines after the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + f"0\r\n{trailer}\r\n".encode()


def crc64nvme(data: bytes) -> str:
    return base64.b64encode(awscrt.checksums.crc64nvme(data).to_bytes(8, "big")).decode()


def test_a_chunked_put_and_upload_part_are_stored_whole(server, s3, bucket):
    """`Transfer-Encoding: chunked` (once answered 200 with 0 bytes stored)."""
    pieces = [os.urandom(70_000), b"x", os.urandom(1024 * 1024 + 3)]
    status, _ = send(server, "PUT", f"/{bucket}/chunked", {"Transfer-Encoding": "chunked"},
                     http_chunks(*pieces, trailer="X-Ignored: yes\r\n"))
    assert status == 200
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == b"".join(pieces) and got["ETag"] == f'"{hashlib.md5(b"".join(pieces)).hexdigest()}"'

    upload = s3.create_multipart_upload(Bucket=bucket, Key="chunked-parts")["UploadId"]
    parts = [os.urandom(5 * 1024 * 1024), b"the end"]
    etags = []
    for number, part in enumerate(parts, 1):
        status, _ = send(server, "PUT", f"/{bucket}/chunked-parts?partNumber={number}&uploadId={upload}",
                         {"Transfer-Encoding": "chunked"}, http_chunks(part[:100], part[100:]))
        assert status == 200
        etags.append({"PartNumber": number, "ETag": f'"{hashlib.md5(part).hexdigest()}"'})
    s3.complete_multipart_upload(Bucket=bucket, Key="chunked-parts", UploadId=upload, MultipartUpload={"Parts": etags})
    assert s3.get_object(Bucket=bucket, Key="chunked-parts")["Body"].read() == b"".join(parts)


def test_aws_chunked_inside_http_chunks_with_a_checksum_trailer(server, s3, bucket):
    """What pyarrow's S3FileSystem sends (its AWS SDK for C++): the trailer's CRC64NVME
    is checked, and a wrong one stores nothing."""
    data = os.urandom(300_000)
    headers = {"Transfer-Encoding": "chunked", "Content-Encoding": "aws-chunked", "Expect": "100-continue",
               "X-Amz-Decoded-Content-Length": str(len(data)), "X-Amz-Trailer": "x-amz-checksum-crc64nvme"}
    for key, checksum, expected in (("good", crc64nvme(data), 200), ("bad", crc64nvme(data[1:]), 400)):
        framed = aws_chunks(data[:65536], data[65536:], trailer=f"x-amz-checksum-crc64nvme:{checksum}\r\n")
        status, answer = send(server, "PUT", f"/{bucket}/{key}", headers, http_chunks(framed[:100], framed[100:]),
                              content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        assert status == expected, answer
    assert s3.get_object(Bucket=bucket, Key="good")["Body"].read() == data
    assert code_of(s3.head_object, Bucket=bucket, Key="bad") == "404"


def _signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signed_aws_chunks(headers: dict, secret: str, pieces: list[bytes], trailer: str | None = None) -> bytes:
    """An aws-chunked body whose chunks are signed as S3 documents it (each signature
    signs the chunk's SHA-256 and the previous signature, from the request's own),
    the trailer lines, if any, signed after the last chunk."""
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = _signing_key(secret, amz_date[:8])
    previous, framed = seed, b""
    empty = hashlib.sha256(b"").hexdigest()
    for piece in [*pieces, b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                             hashlib.sha256(piece).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        framed += b"%x;chunk-signature=%s\r\n%s" % (len(piece), previous.encode(), piece)
        framed += b"\r\n" if piece else b""
    if trailer is None:
        return framed + b"\r\n"
    to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                         hashlib.sha256(trailer.encode()).hexdigest()])
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return framed + f"{trailer.replace(chr(10), chr(13) + chr(10))}x-amz-trailer-signature:{signature}\r\n\r\n".encode()


def test_the_chunk_signatures_of_s3s_published_example_are_accepted():
    """S3's documentation works a signed chunked upload through (PUT chunkObject.txt,
    65 KiB of 'a' in two chunks): its seed and chunk signatures must check."""
    headers = {
        "Host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560", "Content-Length": "66824",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                         "x-amz-decoded-content-length;x-amz-storage-class,"
                         "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
    verified = sigv4.verify_request("PUT", "/examplebucket/chunkObject.txt", "", headers, None,
                                    lambda _key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                    datetime(2013, 5, 24, 0, 1, tzinfo=timezone.utc), "s3")
    chain = sigv4.ChunkSignatures(verified)
    for data, signature in ((b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
                            (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
                            (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")):
        chain.check_chunk(hashlib.sha256(data).hexdigest(), signature)
    with pytest.raises(AuthError):
        sigv4.ChunkSignatures(verified).check_chunk(hashlib.sha256(b"b" * 65536).hexdigest(),
                                                    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")


@pytest.mark.parametrize("with_trailer", [False, True], ids=["signed-chunks", "signed-chunks-and-trailer"])
def test_signed_chunks_are_verified_and_a_tampered_one_stores_nothing(server, s3, bucket, with_trailer):
    """What the AWS SDK for Java (Hadoop's S3A) sends over plain HTTP: every chunk
    signed, each signature chained from the previous one."""
    pieces = [os.urandom(64 * 1024), os.urandom(1000)]
    data = b"".join(pieces)
    content_sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if with_trailer else "")
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    trailer = f"x-amz-checksum-crc32:{crc}\n" if with_trailer else None
    host = f"127.0.0.1:{server.port}"

    def put(key: str, tamper=lambda framed: framed) -> tuple[int, bytes]:
        headers = {"Host": host, "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data)),
                   **({"X-Amz-Trailer": "x-amz-checksum-crc32"} if with_trailer else {})}
        headers = signed_headers(server, "PUT", f"http://{host}/{bucket}/{key}", headers, content_sha256=content_sha)
        framed = tamper(signed_aws_chunks(headers, server.secret_access_key, pieces, trailer))
        return send(server, "PUT", f"/{bucket}/{key}", {**headers, "Content-Length": str(len(framed))}, framed,
                    sign=False)

    assert put("signed")[0] == 200
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data
    one_byte_changed = put("tampered", lambda framed: framed.replace(pieces[1][:8], bytes(8), 1))
    assert one_byte_changed[0] == 403 and b"<Code>SignatureDoesNotMatch</Code>" in one_byte_changed[1]
    unsigned = put("unsigned", lambda framed: re.sub(rb";chunk-signature=[0-9a-f]+", b"", framed))
    assert unsigned[0] == 400
    if with_trailer:
        wrong_trailer = put("wrong-trailer", lambda framed: framed.replace(crc.encode(), b"AAAAAA=="))
        assert wrong_trailer[0] == 403
    for refused in ("tampered", "unsigned", "wrong-trailer"):
        assert code_of(s3.head_object, Bucket=bucket, Key=refused) == "404"


BAD_FRAMINGS = {
    "negative Content-Length": ({}, b"hello", "Content-Length: -5\r\n"),
    "Content-Length twice": ({}, b"hello", "Content-Length: 5\r\nContent-Length: 100\r\n"),
    "Content-Length not a number": ({}, b"hello", "Content-Length: 5, 5\r\n"),
    "Content-Length and chunked": ({"Transfer-Encoding": "chunked"}, http_chunks(b"hello"), "Content-Length: 5\r\n"),
    "body shorter than its Content-Length": ({}, b"hello", "Content-Length: 500\r\n"),
    "chunk size not hex": ({"Transfer-Encoding": "chunked"}, b"zz\r\nhello\r\n0\r\n\r\n", ""),
    "negative chunk size": ({"Transfer-Encoding": "chunked"}, b"-5\r\nhello\r\n0\r\n\r\n", ""),
    "chunk longer than its size": ({"Transfer-Encoding": "chunked"}, b"3\r\nhello\r\n0\r\n\r\n", ""),
    "chunk-size line without end": ({"Transfer-Encoding": "chunked"}, b"5" + b";x" * 10_000, ""),
    "chunked body cut short": ({"Transfer-Encoding": "chunked"}, b"5\r\nhel", ""),
}
AWS_CHUNKED = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"}
BAD_AWS_CHUNKS = {
    "negative aws chunk size": b"-5\r\nhello\r\n0\r\n\r\n",
    "aws chunk size not hex": b"0x5\r\nhello\r\n0\r\n\r\n",
    "aws chunk longer than its size": b"3\r\nhello\r\n0\r\n\r\n",
    "aws chunks cut short": b"5\r\nhel",
    "aws chunk size beyond the body": b"fffffffffffff\r\nhello",
    "decoded length that lies": b"4\r\nhell\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", [*BAD_FRAMINGS, *BAD_AWS_CHUNKS])
def test_bad_framing_is_a_400_in_s3s_xml_and_stores_nothing(server, s3, bucket, case):
    if case in BAD_FRAMINGS:
        headers, body, extra_head = BAD_FRAMINGS[case]
        content_sha = "UNSIGNED-PAYLOAD"
    else:
        body, extra_head = BAD_AWS_CHUNKS[case], ""
        headers = {**AWS_CHUNKED, "Content-Length": str(len(body))}
        content_sha = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    key = "refused-" + hashlib.sha1(case.encode()).hexdigest()[:8]
    status, answer = send(server, "PUT", f"/{bucket}/{key}", headers, body, content_sha, extra_head)
    assert status == 400 and answer.startswith(b"<?xml") and b"<Code>" in answer, answer
    assert code_of(s3.head_object, Bucket=bucket, Key=key) == "404"
    assert list((server.data_dir / "buckets" / bucket / ".elmr" / "staging").iterdir()) == []
    assert s3.list_buckets()["Buckets"]


FUZZ_CASES = 160
FUZZED_HEADERS = [
    "Content-Length", "Content-MD5", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Expect",
    "X-Amz-Content-SHA256", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer", "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256",
    "x-amz-sdk-checksum-algorithm", "If-Match", "If-None-Match", "If-Modified-Since", "Range", "x-amz-copy-source",
    "x-amz-copy-source-range", "x-amz-copy-source-if-match", "x-amz-metadata-directive", "x-amz-meta-fuzz",
    "Cache-Control", "Content-Disposition", "Content-Language", "Expires", "x-amz-tagging", "x-amz-acl",
    "x-amz-storage-class", "x-amz-server-side-encryption", "x-amz-object-lock-mode", "x-amz-checksum-mode",
]
FUZZED_VALUES = [
    "", "-1", "0", "1", "18446744073709551616", "9" * 40, "*", '"', "null", "bytes=5-1", "bytes=-", "bytes=0-0,2-3",
    "aws-chunked", "chunked", "gzip, aws-chunked", "100-continue", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "UNSIGNED-PAYLOAD", "x-amz-checksum-crc32", "AAAAAA==", "%%%",
    "fuzz/../../etc/passwd", "/nosuchbucket/key", "REPLACE", "COPY", "a=b&c", "\u00e9t\u00e9", "\u00ff" * 300,
    "x" * 9000, "Thu, 01 Jan 1970 00:00:00 GMT", "Sat, 99 Foo 9999 99:99:99 GMT", "\x00", "\t",
]
FUZZED_QUERIES = ["", "", "", "?uploads", "?partNumber=1&uploadId=nope", "?partNumber=0&uploadId=x",
                  "?versionId=junk", "?tagging", "?acl", "?retention", "?partNumber=1", "?list-type=2&max-keys=-1",
                  "?delete", "?uploadId=", "?x-id=PutObject", "?versions&max-keys=abc"]


def _fuzzed_request(rng: random.Random, bucket: str, key: str) -> tuple[str, str, dict, bytes, str]:
    """(method, path, headers, body, the x-amz-content-sha256 it is signed with)."""
    body = rng.randbytes(rng.choice([0, 1, 100, 70_000]))
    headers = {"Content-Length": str(len(body))}
    for name in rng.sample(FUZZED_HEADERS, rng.randint(1, 4)):
        headers[name] = rng.choice(FUZZED_VALUES)
    shape = rng.random()
    if shape < 0.15:
        body = aws_chunks(body[:50], body[50:]) if rng.random() < 0.5 else b"%x\r\n" % len(body) + body
    elif shape < 0.3:
        body = body[:rng.randint(0, len(body))] + rng.randbytes(rng.randint(0, 30))
    elif shape < 0.4:
        body = http_chunks(body, rng.randbytes(10))
        headers["Transfer-Encoding"] = "chunked"
        headers.pop("Content-Length", None)
    method = rng.choice(["PUT"] * 6 + ["POST", "GET", "HEAD", "DELETE"])
    path = f"/{bucket}/{key}{rng.choice(FUZZED_QUERIES)}"
    if "Content-Length" in headers and "Transfer-Encoding" not in headers and rng.random() < 0.5:
        headers["Content-Length"] = str(len(body))  # most framings true, so that the rest is reached
    return method, path, headers, body, headers.get("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")


def test_fuzzed_headers_and_bodies_get_4xx_store_nothing_and_leave_the_server_answering(tmp_path):
    """Seeded random requests, signed over what they carry (so that they reach the
    code behind the signature check): never a 5xx (S3's NotImplemented aside), a
    refused request stores nothing, what is stored is whole, and the server answers
    at the end with no upload left half-written."""
    server = ElmrServer(tmp_path / "data", free_port(), extra_args=("--request-timeout", "3"))
    server.start()
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="fuzz")
        s3.put_object(Bucket="fuzz", Key="fuzz/../../etc/passwd", Body=b"a copy source")
        rng = random.Random(15)
        for case in range(FUZZ_CASES):
            key = f"case-{case}"
            method, path, headers, body, content_sha = _fuzzed_request(rng, "fuzz", key)
            try:
                status, answer = send(server, method, path, headers, body, content_sha)
            except (ConnectionError, http.client.HTTPException) as dropped:
                raise AssertionError(f"case {case}: {method} {path} {headers} dropped: {dropped!r}") from None
            not_implemented = status == 501 and (method == "HEAD" or b"<Code>NotImplemented</Code>" in answer)
            assert status < 500 or not_implemented, (case, method, path, headers, answer)
            try:
                stored = s3.get_object(Bucket="fuzz", Key=key)
            except ClientError:
                continue
            assert status < 400, (case, method, path, headers, answer)
            data = stored["Body"].read()
            assert len(data) == stored["ContentLength"]
            if "-" not in stored["ETag"]:
                assert stored["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert s3.list_buckets()["Buckets"]
        assert list((server.data_dir / "buckets" / "fuzz" / ".elmr" / "staging").iterdir()) == []
    finally:
        server.stop_everything()


def test_the_checksum_an_object_was_written_with_comes_back_when_asked(s3, bucket):
    """Kept at write time (sent in a header, in a trailer, or only named), returned
    with ChecksumMode ENABLED, which botocore then checks the body against."""
    body = b"checksummed " * 1000
    s3.put_object(Bucket=bucket, Key="trailer", Body=body, ChecksumAlgorithm="CRC32C")
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="header", Body=body, ChecksumSHA256=sha256)
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32C"] == base64.b64encode(awscrt.checksums.crc32c(body).to_bytes(4, "big")).decode()
    assert got["Body"].read() == body and got["ChecksumType"] == "FULL_OBJECT"
    assert s3.head_object(Bucket=bucket, Key="header", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha256
    ranged = s3.get_object(Bucket=bucket, Key="header", ChecksumMode="ENABLED", Range="bytes=0-9")
    assert "ChecksumSHA256" not in ranged  # of the whole object only
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "header"})
    assert copied["CopyObjectResult"]["ChecksumSHA256"] == sha256
