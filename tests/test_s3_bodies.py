"""Request bodies as S3 clients send them: checksums (headers and trailers), signed
payloads, aws-chunked and HTTP-chunked bodies, framing that lies; and a fuzz test of
headers and bodies that must get 4xx, store nothing and leave the server answering."""

import base64
import hashlib
import http.client
import os

import awscrt.checksums
from conftest import code_of, signed_headers


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
