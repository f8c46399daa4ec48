"""The object store's buckets and objects through real boto3: reads, writes, copies,
listings, keys, conditions and what Spark leaves in the bucket directories."""

import email.header
import hashlib
import http.client
import os
import socket
import struct
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from conftest import code_of, race_to_create, read_while_overwriting, signed_headers


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
            if _holds(path, marker):
                assert path.startswith(str(bucket_dir) + os.sep), path
    s3.delete_object(Bucket=bucket, Key=key)
    assert code_of(s3.head_object, Bucket=bucket, Key=key) == "404"


def _holds(path: str, expected: bytes) -> bool:
    """Whether the file at `path` holds exactly `expected`. The walk crosses the session
    server's node directories too: a dangling link there (a node's config link whose
    target a failed bootstrap never wrote) or a file gone meanwhile holds nothing."""
    try:
        if os.path.getsize(path) != len(expected):
            return False
        with open(path, "rb") as file:
            return file.read() == expected
    except FileNotFoundError:
        return False


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
    granting more than the owner's full control taken for a PutObject would empty the
    object, DeleteBucketPolicy taken for a DeleteBucket would delete the (empty) bucket."""
    s3.put_object(Bucket=bucket, Key="kept", Body=b"as it was")
    s3.create_bucket(Bucket="empty-but-wanted")
    refused = [
        (s3.put_object_acl, {"Bucket": bucket, "Key": "kept", "ACL": "public-read"}),
        (s3.put_object_retention, {"Bucket": bucket, "Key": "kept", "Retention": {"Mode": "GOVERNANCE"}}),
        (s3.get_object_legal_hold, {"Bucket": bucket, "Key": "kept"}),
        (s3.delete_bucket_policy, {"Bucket": "empty-but-wanted"}),
        (s3.put_bucket_policy, {"Bucket": "empty-but-wanted", "Policy": "{}"}),
        (s3.delete_bucket_lifecycle, {"Bucket": "empty-but-wanted"}),
        (s3.put_bucket_acl, {"Bucket": "empty-but-wanted", "ACL": "public-read-write"}),
    ]
    assert [code_of(call, **params) for call, params in refused] == ["NotImplemented"] * len(refused)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"as it was"
    s3.head_bucket(Bucket="empty-but-wanted")
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


def test_the_headers_an_object_is_written_with_come_back(s3, bucket):
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    written = {"CacheControl": "max-age=60", "ContentDisposition": 'attachment; filename="r.csv"',
               "ContentEncoding": "gzip", "ContentLanguage": "fr-CA", "ContentType": "text/csv"}
    s3.put_object(Bucket=bucket, Key="r.csv", Body=b"a,b\n", Expires=expires, **written)
    for answer in (s3.head_object(Bucket=bucket, Key="r.csv"), s3.get_object(Bucket=bucket, Key="r.csv")):
        assert {name: answer[name] for name in written} == written
        assert answer["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    overridden = s3.get_object(Bucket=bucket, Key="r.csv", ResponseContentDisposition="inline",
                               ResponseContentType="application/octet-stream")
    assert (overridden["ContentDisposition"], overridden["ContentType"]) == ("inline", "application/octet-stream")
    s3.copy_object(Bucket=bucket, Key="copied.csv", CopySource={"Bucket": bucket, "Key": "r.csv"})
    assert s3.head_object(Bucket=bucket, Key="copied.csv")["CacheControl"] == "max-age=60"
    s3.copy_object(Bucket=bucket, Key="replaced.csv", CopySource={"Bucket": bucket, "Key": "r.csv"},
                   MetadataDirective="REPLACE", CacheControl="no-cache")
    replaced = s3.head_object(Bucket=bucket, Key="replaced.csv")
    assert replaced["CacheControl"] == "no-cache" and "ContentDisposition" not in replaced


def test_non_ascii_user_metadata_signs_and_round_trips(server, s3, bucket):
    """botocore refuses non-ASCII metadata; other clients send it as UTF-8 in the
    header, signed as such. It is stored as text and sent back as S3 sends it, an
    RFC 2047 encoded-word."""
    host = f"127.0.0.1:{server.port}"
    headers = signed_headers(server, "PUT", f"http://{host}/{bucket}/meta", {
        "Host": host, "Content-Length": "2", "x-amz-meta-city": "Zürich 東京"}, content_sha256="UNSIGNED-PAYLOAD")
    head = f"PUT /{bucket}/meta HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head.encode("utf-8") + b"ok")
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        assert answer.status == 200, answer.read()
    sent_back = s3.head_object(Bucket=bucket, Key="meta")["Metadata"]["city"]
    assert str(email.header.make_header(email.header.decode_header(sent_back))) == "Zürich 東京"
    s3.put_object(Bucket=bucket, Key="encoded", Body=b"", Metadata={"city": sent_back})  # as S3 clients re-send it
    assert s3.head_object(Bucket=bucket, Key="encoded")["Metadata"]["city"] == sent_back


def test_get_and_head_one_part_of_an_object(s3, bucket):
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), b"the end"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parted")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="parted", UploadId=upload, PartNumber=n, Body=part)["ETag"]
             for n, part in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="parted", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]})
    second = s3.get_object(Bucket=bucket, Key="parted", PartNumber=2)
    assert second["Body"].read() == parts[1] and second["PartsCount"] == 3
    assert second["ContentRange"] == f"bytes {len(parts[0])}-{len(parts[0]) + len(parts[1]) - 1}/{len(b''.join(parts))}"
    assert s3.head_object(Bucket=bucket, Key="parted", PartNumber=3)["ContentLength"] == len(b"the end")
    assert code_of(s3.get_object, Bucket=bucket, Key="parted", PartNumber=4) == "InvalidPartNumber"
    s3.put_object(Bucket=bucket, Key="whole", Body=b"one part")
    assert s3.get_object(Bucket=bucket, Key="whole", PartNumber=1)["Body"].read() == b"one part"
    assert code_of(s3.get_object, Bucket=bucket, Key="whole", PartNumber=2) == "InvalidPartNumber"


def test_tags_of_objects_and_buckets(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="team=ml&stage=raw")
    assert {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]} == {
        "team": "ml", "stage": "raw"}
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.delete_object_tagging(Bucket=bucket, Key="tagged")
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"x"  # the object itself is untouched
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="absent") == "NoSuchKey"
    assert code_of(s3.put_object, Bucket=bucket, Key="t", Body=b"", Tagging="&".join(f"k{n}=v" for n in range(11))) \
        == "BadRequest"
    assert code_of(s3.get_bucket_tagging, Bucket=bucket) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "cost-center", "Value": "42"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "cost-center", "Value": "42"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    assert code_of(s3.get_bucket_tagging, Bucket=bucket) == "NoSuchTagSet"


def test_acls_are_the_owners_full_control(s3, bucket):
    s3.put_object(Bucket=bucket, Key="acl", Body=b"x")
    for acl in (s3.get_object_acl(Bucket=bucket, Key="acl"), s3.get_bucket_acl(Bucket=bucket)):
        assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
        assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    s3.put_object_acl(Bucket=bucket, Key="acl", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    s3.put_object_acl(Bucket=bucket, Key="acl", AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}]})
    assert code_of(s3.put_object_acl, Bucket=bucket, Key="acl", ACL="public-read") == "NotImplemented"
    assert code_of(s3.get_object_acl, Bucket=bucket, Key="absent") == "NoSuchKey"


def test_listing_edges(s3, bucket):
    """MaxKeys=0 (once a 500), an empty ContinuationToken, DeleteObjects of over 1,000
    keys, ListBuckets a page at a time."""
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for listing in (s3.list_objects_v2(Bucket=bucket, MaxKeys=0), s3.list_objects(Bucket=bucket, MaxKeys=0),
                    s3.list_objects_v2(Bucket=bucket, MaxKeys=0, Delimiter="/")):
        assert "Contents" not in listing and listing["IsTruncated"] is False
    assert code_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="") == "InvalidArgument"
    assert code_of(s3.list_objects_v2, Bucket=bucket, MaxKeys=-1) == "InvalidArgument"
    too_many = {"Objects": [{"Key": f"k{n}"} for n in range(1001)]}
    assert code_of(s3.delete_objects, Bucket=bucket, Delete=too_many) == "MalformedXML"
    for name in ("page-1", "page-2", "page-3"):
        s3.create_bucket(Bucket=f"{bucket}-{name}")
    first = s3.list_buckets(Prefix=f"{bucket}-page", MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == [f"{bucket}-page-1", f"{bucket}-page-2"]
    rest = s3.list_buckets(Prefix=f"{bucket}-page", MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == [f"{bucket}-page-3"] and "ContinuationToken" not in rest
    everything = [b["Name"] for page in s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 1})
                  for b in page["Buckets"]]
    assert {f"{bucket}-page-1", f"{bucket}-page-2", f"{bucket}-page-3", bucket} <= set(everything)
    for name in ("page-1", "page-2", "page-3"):
        s3.delete_bucket(Bucket=f"{bucket}-{name}")


def test_copy_source_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    past, future = datetime.now(timezone.utc) - timedelta(days=1), datetime.now(timezone.utc) + timedelta(days=1)
    source = {"Bucket": bucket, "Key": "src"}
    refused = [{"CopySourceIfMatch": '"0123"'}, {"CopySourceIfNoneMatch": etag},
               {"CopySourceIfModifiedSince": future}, {"CopySourceIfUnmodifiedSince": past}]
    for conditions in refused:
        assert code_of(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, **conditions) == \
            "PreconditionFailed", conditions
    assert code_of(s3.head_object, Bucket=bucket, Key="dst") == "404"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, CopySourceIfMatch=etag,
                   CopySourceIfUnmodifiedSince=future, CopySourceIfModifiedSince=past)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"


def test_if_match_and_if_none_match_with_or_without_quotes(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="q", Body=b"quoted")["ETag"]
    for tag in (etag, etag.strip('"')):
        assert s3.get_object(Bucket=bucket, Key="q", IfMatch=tag)["Body"].read() == b"quoted"
        assert s3.head_object(Bucket=bucket, Key="q", IfMatch=tag)["ETag"] == etag
        assert code_of(s3.get_object, Bucket=bucket, Key="q", IfNoneMatch=tag) == "304"
        assert code_of(s3.head_object, Bucket=bucket, Key="q", IfNoneMatch=tag) == "304"


@pytest.mark.parametrize("name", ["ab", "a" * 64, "-starts", "ends-", "two..dots", "192.168.1.10", "xn--punycode",
                                  "sthree-bucket", "ends-s3alias", "ends--ol-s3", "UpperCase", "under_score"])
def test_s3s_bucket_naming_rules(s3, name):
    assert code_of(s3.create_bucket, Bucket=name) == "InvalidBucketName"
