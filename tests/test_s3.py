"""The embedded object store through real boto3 and AWS CLI clients, on the same
server and port as the EMR API."""

import base64
import hashlib
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import awscrt.checksums
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import (
    REPO_ROOT,
    ElmrServer,
    free_port,
    race_to_create,
    read_while_overwriting,
    signed_headers,
    wait_for,
)

from elmr.node_protocol import OBJECT_PATH


def s3_client(server, **overrides):
    config = Config(s3={"addressing_style": overrides.pop("addressing", "path")},
                    retries={"max_attempts": 1})
    return server.client("s3", config=config, **overrides)


@pytest.fixture
def s3(server):
    return s3_client(server)


@pytest.fixture
def bucket(s3, request):
    name = "b-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    s3.create_bucket(Bucket=name)
    return name


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def test_buckets_create_list_head_delete(s3):
    s3.create_bucket(Bucket="lifecycle")
    assert "lifecycle" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket="lifecycle")
    assert code_of(s3.create_bucket, Bucket="lifecycle") == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket="lifecycle", Key="x", Body=b"1")
    assert code_of(s3.delete_bucket, Bucket="lifecycle") == "BucketNotEmpty"
    s3.delete_object(Bucket="lifecycle", Key="x")
    s3.delete_bucket(Bucket="lifecycle")
    assert code_of(s3.head_bucket, Bucket="lifecycle") == "404"
    assert code_of(s3.list_objects_v2, Bucket="lifecycle") == "NoSuchBucket"
    assert code_of(s3.create_bucket, Bucket="Not_Valid") == "InvalidBucketName"


def test_put_get_head_with_metadata_and_md5_etag(s3, bucket):
    body = b"x,y\n1,2\n"
    put = s3.put_object(Bucket=bucket, Key="in/a.csv", Body=body, ContentType="text/csv",
                        Metadata={"team": "ml"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="in/a.csv")
    assert got["Body"].read() == body
    assert (got["ContentType"], got["Metadata"], got["ContentLength"]) == ("text/csv", {"team": "ml"}, len(body))
    assert s3.head_object(Bucket=bucket, Key="in/a.csv")["ETag"] == put["ETag"]
    assert code_of(s3.get_object, Bucket=bucket, Key="missing") == "NoSuchKey"
    s3.delete_object(Bucket=bucket, Key="in/a.csv")
    s3.delete_object(Bucket=bucket, Key="in/a.csv")  # deleting twice is fine, as in S3
    assert code_of(s3.head_object, Bucket=bucket, Key="in/a.csv") == "404"


def test_ranges_and_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")["Body"].read() == b"234"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=8-")["Body"].read() == b"89"
    assert code_of(s3.get_object, Bucket=bucket, Key="r", Range="bytes=20-30") == "InvalidRange"
    etag = s3.head_object(Bucket=bucket, Key="r")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == b"0123456789"
    assert code_of(s3.get_object, Bucket=bucket, Key="r", IfMatch='"other"') == "PreconditionFailed"
    assert code_of(s3.get_object, Bucket=bucket, Key="r", IfNoneMatch=etag) == "304"
    past, future = datetime.now(timezone.utc) - timedelta(days=1), datetime.now(timezone.utc) + timedelta(days=1)
    assert code_of(s3.get_object, Bucket=bucket, Key="r", IfModifiedSince=future) == "304"
    assert s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=past)["ContentLength"] == 10
    assert code_of(s3.get_object, Bucket=bucket, Key="r", IfUnmodifiedSince=past) == "PreconditionFailed"


def test_copy_with_metadata_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", ContentType="text/plain", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    kept = s3.head_object(Bucket=bucket, Key="kept")
    assert (kept["ContentType"], kept["Metadata"]) == ("text/plain", {"a": "1"})
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", ContentType="application/json", Metadata={"b": "2"})
    replaced = s3.get_object(Bucket=bucket, Key="replaced")
    assert (replaced["ContentType"], replaced["Metadata"], replaced["Body"].read()) == (
        "application/json", {"b": "2"}, b"data")
    assert code_of(s3.copy_object, Bucket=bucket, Key="src",
                   CopySource={"Bucket": bucket, "Key": "src"}) == "InvalidRequest"


def test_listing_v2_v1_prefix_delimiter_paging(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "c", "d/4"] + [f"page/{n:03d}" for n in range(12)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "d/", "page/"]
    under_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    first = s3.list_objects_v2(Bucket=bucket, Prefix="page/", MaxKeys=5)
    assert first["IsTruncated"] and first["KeyCount"] == 5
    rest = s3.list_objects_v2(Bucket=bucket, Prefix="page/", ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in first["Contents"] + rest["Contents"]] == [f"page/{n:03d}" for n in range(12)]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="d/4")
    assert after["Contents"][0]["Key"] == "page/000"
    paginated = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4})
                 for o in page["Contents"]]
    assert paginated == sorted(keys)
    v1 = s3.list_objects(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in v1["Contents"]] == ["a/1", "a/2", "a/b/3"]
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a/1"}, {"Key": "c"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["a/1", "c"]
    assert "c" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]


def test_multipart_out_of_order_with_a_retried_part(s3, bucket):
    part_size = 5 * 1024 * 1024
    parts = [os.urandom(part_size), os.urandom(part_size), b"tail"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ContentType="application/x-test")
    upload_id = upload["UploadId"]
    etags = {}
    for number in (3, 1, 2):
        etags[number] = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload_id,
                                       PartNumber=number, Body=parts[number - 1])["ETag"]
    retried = os.urandom(part_size)
    parts[1] = retried
    etags[2] = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=2, Body=retried)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3] and listed[1]["ETag"] == etags[2]
    assert upload_id in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    assert "big.bin" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    combined = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert done["ETag"] == f'"{combined}-3"'
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == b"".join(parts) and got["ContentType"] == "application/x-test"
    assert code_of(s3.list_parts, Bucket=bucket, Key="big.bin", UploadId=upload_id) == "NoSuchUpload"


def _upload_parts(s3, bucket, key, bodies: dict) -> tuple[str, dict]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = {number: s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                    Body=body)["ETag"] for number, body in bodies.items()}
    return upload_id, etags


def _complete(s3, bucket, key, upload_id, etags, numbers):
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in numbers]})


def test_multipart_completions_in_place_and_by_copy(s3, bucket):
    """Equal parts are written into one file at their offsets; completing with
    fewer parts than were sent, or after a part was sent again, must still give
    exactly the chosen bytes."""
    size = 5 * 1024 * 1024
    parts = {n: os.urandom(size) for n in (1, 2, 3)} | {4: b"tail"}
    upload_id, etags = _upload_parts(s3, bucket, "first-two", parts)
    done = _complete(s3, bucket, "first-two", upload_id, etags, [1, 2])
    assert s3.get_object(Bucket=bucket, Key="first-two")["Body"].read() == parts[1] + parts[2]
    assert done["ETag"] == f'"{hashlib.md5(hashlib.md5(parts[1]).digest() + hashlib.md5(parts[2]).digest()).hexdigest()}-2"'

    upload_id, etags = _upload_parts(s3, bucket, "resent", parts)
    parts[2] = os.urandom(size)  # its slot is filled: the new bytes go to a file of their own
    etags[2] = s3.upload_part(Bucket=bucket, Key="resent", UploadId=upload_id, PartNumber=2, Body=parts[2])["ETag"]
    _complete(s3, bucket, "resent", upload_id, etags, [1, 2, 3, 4])
    assert s3.get_object(Bucket=bucket, Key="resent")["Body"].read() == b"".join(parts[n] for n in (1, 2, 3, 4))

    upload_id, etags = _upload_parts(s3, bucket, "gap", parts)
    _complete(s3, bucket, "gap", upload_id, etags, [1, 3, 4])
    assert s3.get_object(Bucket=bucket, Key="gap")["Body"].read() == parts[1] + parts[3] + parts[4]


def test_multipart_errors_and_abort(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"small")["ETag"]
    second = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=2, Body=b"x")["ETag"]
    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="m", UploadId=upload_id,
                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": second}]}
                   ) == "EntityTooSmall"
    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="m", UploadId=upload_id,
                   MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": second}, {"PartNumber": 1, "ETag": small}]}
                   ) == "InvalidPartOrder"
    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="m", UploadId=upload_id,
                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]}) == "InvalidPart"
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)
    assert code_of(s3.upload_part, Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"x") == "NoSuchUpload"


def test_upload_file_of_200_mib_goes_multipart(s3, bucket, tmp_path):
    part_size = 8 * 1024 * 1024  # boto3's default multipart_chunksize
    part_md5s, whole = [], hashlib.md5()
    with open(tmp_path / "up", "wb") as upload:
        for _ in range(25):
            part = os.urandom(part_size)
            part_md5s.append(hashlib.md5(part).digest())
            whole.update(part)
            upload.write(part)
    s3.upload_file(str(tmp_path / "up"), bucket, "uploaded")
    # S3's multipart ETag: the MD5 of the parts' MD5s, then the part count.
    expected_etag = f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-25"'
    assert s3.head_object(Bucket=bucket, Key="uploaded")["ETag"] == expected_etag
    s3.download_file(bucket, "uploaded", str(tmp_path / "down"))
    with open(tmp_path / "down", "rb") as download:
        assert hashlib.file_digest(download, "md5").hexdigest() == whole.hexdigest()


def test_bodies_past_the_background_flush_size_round_trip_whole(s3, bucket, tmp_path):
    """A PUT and multipart parts longer than page_cache.LARGE (16 MiB) are flushed and
    dropped from the page cache as they arrive, a long GET range is dropped behind the
    reader: every byte still comes back, and the ETags are S3's."""
    mib = 1024 * 1024
    body = os.urandom(40 * mib + 3)
    assert s3.put_object(Bucket=bucket, Key="big", Body=body)["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    ranged = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={mib}-{35 * mib}")["Body"].read()
    assert ranged == body[mib:35 * mib + 1]
    (tmp_path / "up").write_bytes(body)
    s3.upload_file(str(tmp_path / "up"), bucket, "big-multipart",
                   Config=TransferConfig(multipart_threshold=20 * mib, multipart_chunksize=20 * mib))
    part_md5s = [hashlib.md5(body[start:start + 20 * mib]).digest() for start in range(0, len(body), 20 * mib)]
    expected_etag = f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-3"'
    assert s3.head_object(Bucket=bucket, Key="big-multipart")["ETag"] == expected_etag
    assert s3.get_object(Bucket=bucket, Key="big-multipart")["Body"].read() == body


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


def test_presigned_get_and_put(server, s3, bucket):
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("PUT", put_url.split(str(server.port), 1)[1], body=b"presigned")
    assert connection.getresponse().status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    with urllib.request.urlopen(get_url, timeout=10) as answer:
        assert answer.read() == b"presigned"
    tampered = get_url.replace("Key=p", "Key=q") if "Key=p" in get_url else get_url.replace(f"/{bucket}/p", f"/{bucket}/q")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=10)
    assert refused.value.code == 403 and b"SignatureDoesNotMatch" in refused.value.read()


def test_bad_credentials_get_s3_errors(server, bucket):
    assert code_of(s3_client(server, secret_access_key="wrong").list_objects_v2, Bucket=bucket) == "SignatureDoesNotMatch"
    assert code_of(s3_client(server, access_key_id="AKIANOBODY0000000000").list_buckets) == "InvalidAccessKeyId"


@pytest.mark.parametrize("key", [
    "../../escape", "../" * 12 + "etc/passwd", "/absolute/path", "a/../../b", "./.", "..",
    "dir/", "a//b", "back\\slash\\..\\..", "nul\0byte", "%2e%2e/%2e%2e/pct", ".elmr/objects/x",
    "é" * 300, "x" * 300, "ü/" * 300,
])
def test_every_key_stays_inside_its_bucket(server, s3, bucket, key):
    key = key.encode()[:1024].decode(errors="ignore")
    marker = f"contained in {bucket}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=marker)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == marker
    assert key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    buckets_dir = (server.data_dir / "buckets").resolve()
    bucket_dir = buckets_dir / bucket
    for root, _dirs, files in os.walk(server.data_dir):
        for name in files:
            path = os.path.realpath(os.path.join(root, name))
            if open(path, "rb").read() == marker:
                assert path.startswith(str(bucket_dir) + os.sep), path
    s3.delete_object(Bucket=bucket, Key=key)
    assert code_of(s3.head_object, Bucket=bucket, Key=key) == "404"


def test_a_symlink_in_the_bucket_dir_does_not_lead_keys_out(server, s3, bucket, tmp_path):
    """Something writing the bucket's files directly may leave a symlink to elsewhere:
    a key through it is stored inside the bucket, and what is outside is never read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not an object")
    (server.data_dir / "buckets" / bucket / "link").symlink_to(outside)
    assert code_of(s3.get_object, Bucket=bucket, Key="link/secret") == "NoSuchKey"
    s3.put_object(Bucket=bucket, Key="link/new", Body=b"kept inside")
    assert list(outside.iterdir()) == [outside / "secret"]
    assert s3.get_object(Bucket=bucket, Key="link/new")["Body"].read() == b"kept inside"


def test_operations_named_by_a_subresource_elmr_lacks_are_refused_and_change_nothing(s3, bucket):
    """S3's NotImplemented, not the plain operation on the same path: PutObjectAcl
    taken for a PutObject would empty the object, DeleteBucketTagging taken for a
    DeleteBucket would delete the (empty) bucket."""
    s3.put_object(Bucket=bucket, Key="kept", Body=b"as it was")
    s3.create_bucket(Bucket="empty-but-wanted")
    refused = [
        (s3.put_object_acl, {"Bucket": bucket, "Key": "kept", "ACL": "public-read"}),
        (s3.put_object_tagging, {"Bucket": bucket, "Key": "kept", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
        (s3.delete_object_tagging, {"Bucket": bucket, "Key": "kept"}),
        (s3.get_object_tagging, {"Bucket": bucket, "Key": "kept"}),
        (s3.get_object, {"Bucket": bucket, "Key": "kept", "PartNumber": 1}),
        (s3.delete_bucket_tagging, {"Bucket": "empty-but-wanted"}),
        (s3.delete_bucket_policy, {"Bucket": "empty-but-wanted"}),
        (s3.put_bucket_policy, {"Bucket": "empty-but-wanted", "Policy": "{}"}),
        (s3.list_object_versions, {"Bucket": bucket}),
    ]
    assert [code_of(call, **params) for call, params in refused] == ["NotImplemented"] * len(refused)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"as it was"
    s3.head_bucket(Bucket="empty-but-wanted")
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)  # never enabled: one version per key
    s3.delete_bucket(Bucket="empty-but-wanted")


def test_conditional_writes_happen_only_when_their_condition_holds(server, s3, bucket):
    """If-None-Match `*`: only where no object is; If-Match: only over the ETag named.
    Refused, nothing changes, and a multipart upload stays there to complete."""
    first = s3.put_object(Bucket=bucket, Key="lock", Body=b"first", IfNoneMatch="*")["ETag"]
    refused = [
        (s3.put_object, {"Key": "lock", "Body": b"second", "IfNoneMatch": "*"}),
        (s3.put_object, {"Key": "lock", "Body": b"second", "IfMatch": '"0123456789abcdef0123456789abcdef"'}),
        (s3.copy_object, {"Key": "lock", "CopySource": {"Bucket": bucket, "Key": "lock"},
                          "MetadataDirective": "REPLACE", "IfNoneMatch": "*"}),
    ]
    assert [code_of(call, Bucket=bucket, **params) for call, params in refused] == ["PreconditionFailed"] * 3
    assert code_of(s3.put_object, Bucket=bucket, Key="absent", Body=b"x", IfMatch=first) == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"first"

    second = s3.put_object(Bucket=bucket, Key="lock", Body=b"second", IfMatch=first)["ETag"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="lock")["UploadId"]
    bodies = [os.urandom(5 * 1024 * 1024), b"the last part"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="lock", UploadId=upload, PartNumber=n,
                                                      Body=body)["ETag"]} for n, body in enumerate(bodies, 1)]
    for refused_parts in (parts[:1], parts):  # the first leaves part 2 out: it must stay whole
        assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="lock", UploadId=upload,
                       MultipartUpload={"Parts": refused_parts}, IfNoneMatch="*") == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"second"
    s3.complete_multipart_upload(Bucket=bucket, Key="lock", UploadId=upload, MultipartUpload={"Parts": parts},
                                 IfMatch=second)
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"".join(bodies)

    # A file Spark wrote has no ETag recorded yet: its MD5 is the one to match.
    (server.data_dir / "buckets" / bucket / "from-spark").write_bytes(b"spark")
    s3.put_object(Bucket=bucket, Key="from-spark", Body=b"over it", IfMatch=hashlib.md5(b"spark").hexdigest())
    assert s3.get_object(Bucket=bucket, Key="from-spark")["Body"].read() == b"over it"


def test_of_writers_racing_to_create_a_key_exactly_one_wins(s3, bucket):
    outcomes, stored = race_to_create(s3, bucket, "created-once")
    winners = [outcome for outcome in outcomes if outcome != "PreconditionFailed"]
    assert len(winners) == 1 and stored.decode() == winners[0], outcomes


def test_conditional_deletes_delete_only_the_etag_named(s3, bucket):
    kept = s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")["ETag"]
    gone = s3.put_object(Bucket=bucket, Key="gone", Body=b"gone")["ETag"]
    assert code_of(s3.delete_object, Bucket=bucket, Key="kept", IfMatch=gone) == "PreconditionFailed"
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "kept", "ETag": gone},
                                                                  {"Key": "gone", "ETag": gone}]})
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("kept", "PreconditionFailed")]
    assert [d["Key"] for d in answer["Deleted"]] == ["gone"]
    s3.delete_object(Bucket=bucket, Key="kept", IfMatch=kept)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_version_other_than_null_is_refused_not_taken_for_the_object(s3, bucket):
    """Versioning is never on: the object's only version is `null`. Any other version
    id is S3's InvalidArgument; deleting an "old version" must not delete the object."""
    s3.put_object(Bucket=bucket, Key="versioned", Body=b"the only version")
    other = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert s3.get_object(Bucket=bucket, Key="versioned", VersionId="null")["Body"].read() == b"the only version"
    refused = [
        (s3.get_object, {"Key": "versioned", "VersionId": other}),
        (s3.delete_object, {"Key": "versioned", "VersionId": other}),
        (s3.copy_object, {"Key": "copy", "CopySource": {"Bucket": bucket, "Key": "versioned", "VersionId": other}}),
    ]
    assert [code_of(call, Bucket=bucket, **params) for call, params in refused] == ["InvalidArgument"] * 3
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "versioned", "VersionId": other}]})
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("versioned", "InvalidArgument")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["versioned"]
    s3.delete_object(Bucket=bucket, Key="versioned", VersionId="null")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_get_racing_overwrites_gets_one_whole_object(s3, bucket):
    """Every answer is one object, its bytes the ones its ETag and Content-Length name
    (the file was once opened by path after the lookup, and ~1 GET in 200 got the
    next object's bytes under the old ETag, or a body cut short)."""
    assert read_while_overwriting(s3, bucket, "hot") == []


def test_key_over_1024_bytes_is_refused(s3, bucket):
    assert code_of(s3.put_object, Bucket=bucket, Key="k" * 1025, Body=b"x") == "KeyTooLongError"


def test_file_written_into_the_bucket_dir_is_an_object(server, s3, bucket):
    """What Spark writes through s3:// lands in the bucket dir; S3 serves it at once."""
    written = server.data_dir / "buckets" / bucket / "out" / "part-00000"
    written.parent.mkdir(parents=True)
    written.write_bytes(b"from spark")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        ("out/part-00000", 10, f'"{hashlib.md5(b"from spark").hexdigest()}"')]
    assert s3.get_object(Bucket=bucket, Key="out/part-00000")["Body"].read() == b"from spark"
    # Spark writes it again, then deletes it: the recorded row follows the file.
    written.write_bytes(b"from spark, again")
    again = s3.get_object(Bucket=bucket, Key="out/part-00000")
    assert (again["Body"].read(), again["ETag"]) == (b"from spark, again",
                                                     f'"{hashlib.md5(b"from spark, again").hexdigest()}"')
    written.unlink()
    assert code_of(s3.get_object, Bucket=bucket, Key="out/part-00000") == "NoSuchKey"


def hadoop_checksum(data: bytes, bytes_per_checksum: int = 512) -> bytes:
    """A `.NAME.crc` file as Hadoop's LocalFileSystem writes it beside NAME (what
    Spark leaves beside every file it writes through s3://): its magic, the bytes
    per checksum, then a CRC32 of every chunk."""
    chunks = [data[at:at + bytes_per_checksum] for at in range(0, len(data), bytes_per_checksum)]
    return b"crc\0" + struct.pack(">i", bytes_per_checksum) + b"".join(
        struct.pack(">I", zlib.crc32(chunk)) for chunk in chunks)


def test_hadoop_checksum_files_are_not_objects_and_go_with_their_object(server, s3, bucket):
    """Not listed (S3 has no such files); replaced or deleted through the S3 API, an
    object loses its checksum file, which would no longer match (Spark refuses to
    read a file against a stale one); a deleted prefix is gone from the disk too."""
    out = server.data_dir / "buckets" / bucket / "out"
    out.mkdir()
    for name in ("_SUCCESS", "part-00000", "part-00001"):
        (out / name).write_bytes(name.encode())
        (out / f".{name}.crc").write_bytes(hadoop_checksum(name.encode()))
    s3.put_object(Bucket=bucket, Key="notes/.todo.crc", Body=b"a user's own object")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["notes/.todo.crc", "out/_SUCCESS", "out/part-00000", "out/part-00001"]

    s3.put_object(Bucket=bucket, Key="out/part-00000", Body=b"replaced through S3")
    assert sorted(p.name for p in out.iterdir()) == [
        "._SUCCESS.crc", ".part-00001.crc", "_SUCCESS", "part-00000", "part-00001"]
    s3.delete_object(Bucket=bucket, Key="out/part-00001")
    assert not (out / ".part-00001.crc").exists()
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "out/_SUCCESS"}, {"Key": "out/part-00000"}]})
    assert not out.exists()


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


def test_pipelined_requests_on_one_connection_are_all_answered(server, bucket):
    """HTTP/1.1 lets a client send its next requests before the first answer: the
    second PUT and the GET arrive in the server's read buffer with the first."""
    host = f"127.0.0.1:{server.port}"

    def raw_request(method: str, key: str, body: bytes) -> bytes:
        headers = signed_headers(server, method, f"http://{host}/{bucket}/{key}",
                                 {"Host": host, "Content-Length": str(len(body))}, body)
        head = f"{method} /{bucket}/{key} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (head + "\r\n").encode() + body

    pipelined = (raw_request("PUT", "first", b"one") + raw_request("PUT", "second", b"two")
                 + raw_request("GET", "second", b""))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(pipelined)
        answers = connection.makefile("rb")
        statuses, last_body = [], b""
        for _ in range(3):
            statuses.append(int(answers.readline().split()[1]))
            headers = dict(line.decode().split(":", 1) for line in iter(answers.readline, b"\r\n"))
            last_body = answers.read(int({k.lower(): v for k, v in headers.items()}["content-length"]))
    assert statuses == [200, 200, 200]
    assert last_body == b"two"


def test_many_idle_connections_do_not_make_the_server_close_new_ones(server):
    """Clients keep their connections open between requests (boto3 pools up to 10 per
    client); a server that stops keeping new ones alive makes every request pay for
    a new connection."""
    def get_root(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
        connection.request("GET", "/")
        answer = connection.getresponse()
        answer.read()
        return answer

    idle = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(40)]
    try:
        for connection in idle:
            get_root(connection)
        assert not any(get_root(connection).will_close for connection in idle)
    finally:
        for connection in idle:
            connection.close()


def test_virtual_hosted_style(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="vh/key", Body=b"virtual")
    host = f"{bucket}.localhost:{server.port}"
    headers = signed_headers(server, "GET", f"http://{host}/vh/key", {"Host": host})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/vh/key", headers=headers)
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b"virtual")


def test_aws_cli_mb_cp_sync_ls_rm_presign(server, tmp_path):
    (tmp_path / "input.csv").write_text("a,b\n")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "one.py").write_text("print(1)\n")
    (scripts / "two.sh").write_text("echo 2\n")
    server.aws("s3", "mb", "s3://cli-data")
    server.aws("s3", "cp", str(tmp_path / "input.csv"), "s3://cli-data/in/")
    server.aws("s3", "sync", str(scripts), "s3://cli-data/scripts/")
    listing = server.aws("s3", "ls", "--recursive", "s3://cli-data").stdout
    assert "in/input.csv" in listing and "scripts/one.py" in listing and "scripts/two.sh" in listing
    url = server.aws("s3", "presign", "s3://cli-data/in/input.csv").stdout.strip()
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"a,b\n"
    server.aws("s3", "rm", "s3://cli-data/in/input.csv")
    assert "input.csv" not in server.aws("s3", "ls", "--recursive", "s3://cli-data").stdout


def test_listings_and_headers_give_the_same_time_and_sync_settles(server, s3, bucket, tmp_path):
    """S3 keeps whole seconds: an object's LastModified in a listing is its Last-Modified
    header, and a second `aws s3 sync --exact-timestamps` has nothing to download."""
    s3.put_object(Bucket=bucket, Key="synced/a.txt", Body=b"a")
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]["LastModified"]
    assert listed == s3.head_object(Bucket=bucket, Key="synced/a.txt")["LastModified"]
    local = tmp_path / "local"
    assert "download:" in server.aws("s3", "sync", "--exact-timestamps", f"s3://{bucket}/synced/", str(local)).stdout
    assert server.aws("s3", "sync", "--exact-timestamps", f"s3://{bucket}/synced/", str(local)).stdout == ""


def test_aws_cli_and_boto3_need_no_endpoint_after_elmr_env(server):
    """`eval "$(elmr env)"` points `aws s3` and boto3's s3 client at elmr, as it does
    `aws emr`: nothing here passes an endpoint."""
    bin_dir = Path(sys.executable).parent
    keys = {"ELMR_ACCESS_KEY_ID": server.access_key_id, "ELMR_SECRET_ACCESS_KEY": server.secret_access_key}
    printed = subprocess.run([str(bin_dir / "elmr"), "env", "--data-dir", str(server.data_dir)],
                             env={**os.environ, **keys}, capture_output=True, text=True, check=True).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
    shell = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **exports}

    def aws(*args: str) -> str:
        return subprocess.run([str(bin_dir / "aws"), *args], env=shell, capture_output=True, text=True,
                              timeout=120, check=True).stdout

    aws("s3", "mb", "s3://from-env")
    assert "from-env" in aws("s3", "ls")
    boto3_lists = ("import boto3; print([b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']])")
    listed = subprocess.run([sys.executable, "-c", boto3_lists], env=shell, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "'from-env'" in listed


def test_kill_mid_upload_leaves_old_object_and_no_orphan(tmp_path):
    server = ElmrServer(tmp_path / "data", free_port())
    server.data_dir.mkdir()
    server.start()
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="atomic")
        s3.put_object(Bucket="atomic", Key="obj", Body=b"old")
        # A presigned PUT lets the body stream without a payload hash up front.
        url = s3.generate_presigned_url("put_object", Params={"Bucket": "atomic", "Key": "obj"})
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.putrequest("PUT", url.split(str(server.port), 1)[1], skip_accept_encoding=True)
        connection.putheader("Content-Length", str(64 * 1024 * 1024))
        connection.endheaders()
        connection.send(b"n" * (8 * 1024 * 1024))  # an eighth of the body, then the server dies
        staging = server.data_dir / "buckets" / "atomic" / ".elmr" / "staging"
        wait_for(lambda: any(p.stat().st_size > 0 for p in staging.iterdir()), 30, 0.05,
                 "the upload to be half-way in its staging file")
        server.kill()
        connection.close()
        server.start()
        s3 = s3_client(server)
        assert s3.get_object(Bucket="atomic", Key="obj")["Body"].read() == b"old"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="atomic")["Contents"]] == ["obj"]
        assert list(staging.iterdir()) == []  # the unfinished body's disk space is back
    finally:
        server.stop_everything()


def test_a_second_server_on_the_same_data_dir_refuses_to_start(tmp_path):
    """It would sweep the first one's uploads in flight and drive its nodes twice."""
    first = ElmrServer(tmp_path / "data", free_port())
    second = ElmrServer(tmp_path / "data", free_port())
    first.start()
    try:
        with pytest.raises(RuntimeError, match="another elmr server is serving"):
            second.start()
        assert s3_client(first).list_buckets()["Buckets"] == []
    finally:
        second.stop()
        first.stop_everything()


S3FS_VENV_PYTHON = REPO_ROOT / ".venv-s3fs" / "bin" / "python"
S3FS_CLIENT = """
import json, sys
import pandas as pd
import s3fs

bucket, options = sys.argv[1], json.loads(sys.argv[2])
fs = s3fs.S3FileSystem(**options)
with fs.open(f"{bucket}/notes/a.txt", "wb") as written:
    written.write(b"written by s3fs")
sys.stdin.readline()  # the test has put notes/b.txt with boto3
report = {"b": fs.cat(f"{bucket}/notes/b.txt").decode(), "listed": sorted(fs.ls(f"{bucket}/notes")),
          "size": fs.info(f"{bucket}/notes/b.txt")["size"]}
fs.rm(f"{bucket}/notes/a.txt")
report["found"] = fs.find(bucket)
frame = pd.DataFrame({"fruit": ["apple", "pear"], "qty": [3, 2]})
frame.to_csv(f"s3://{bucket}/frames/fruit.csv", index=False, storage_options=options)
report["read_back"] = pd.read_csv(f"s3://{bucket}/frames/fruit.csv", storage_options=options).to_dict("list")
print(json.dumps(report))
"""


def test_s3fs_and_pandas(server, s3, bucket):
    """fsspec's s3fs and pandas, configured only with the endpoint and the keys. s3fs
    runs from its own venv (scripts/setup): its aiobotocore pins an older botocore."""
    options = {"key": server.access_key_id, "secret": server.secret_access_key,
               "endpoint_url": server.url, "client_kwargs": {"region_name": "us-east-1"}}
    client = subprocess.Popen([str(S3FS_VENV_PYTHON), "-c", S3FS_CLIENT, bucket, json.dumps(options)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _object_exists(s3, bucket, "notes/a.txt"), 60, what="s3fs's write")
        assert s3.get_object(Bucket=bucket, Key="notes/a.txt")["Body"].read() == b"written by s3fs"
        s3.put_object(Bucket=bucket, Key="notes/b.txt", Body=b"from boto3")
        output, _ = client.communicate("go\n", timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0
    report = json.loads(output)
    assert report["b"] == "from boto3"
    assert report["listed"] == [f"{bucket}/notes/a.txt", f"{bucket}/notes/b.txt"]
    assert report["size"] == len(b"from boto3")
    assert report["found"] == [f"{bucket}/notes/b.txt"]
    assert s3.get_object(Bucket=bucket, Key="frames/fruit.csv")["Body"].read() == b"fruit,qty\napple,3\npear,2\n"
    assert report["read_back"] == {"fruit": ["apple", "pear"], "qty": [3, 2]}


def _object_exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def test_node_object_endpoint_refuses_what_is_not_a_node(server, s3, bucket):
    """The endpoint agents fetch s3:// scripts from serves nodes only, not anonymous callers."""
    s3.put_object(Bucket=bucket, Key="secret.sh", Body=b"echo hi")
    query = urllib.parse.urlencode({"instance_id": "ci-NOSUCHNODE", "token": "guess",
                                    "uri": f"s3://{bucket}/secret.sh"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}{OBJECT_PATH}?{query}", timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["__type"] == "AccessDeniedException"
