"""The object store's buckets and objects through real boto3: reads, writes, copies,
listings, keys, conditions and what Spark leaves in the bucket directories."""

import hashlib
import os
import struct
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from conftest import code_of, race_to_create, read_while_overwriting


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
