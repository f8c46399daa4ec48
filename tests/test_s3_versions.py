"""Object versions through real boto3: ListObjectVersions of any bucket (many tools'
bucket clean-up lists versions first), Get/PutBucketVersioning, and a versioned
bucket keeping old versions and delete markers, read and deleted by VersionId."""

import boto3
from botocore.exceptions import ClientError
from conftest import code_of


def _versions(s3, bucket: str) -> tuple[list[tuple], list[tuple]]:
    """([(key, version id, is latest)] of the versions listed, the same of the delete
    markers), each in the listing's order (boto3 hands the two apart)."""
    listed = s3.list_object_versions(Bucket=bucket)
    return ([(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed.get("Versions", [])],
            [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed.get("DeleteMarkers", [])])


def test_an_unversioned_bucket_lists_each_object_as_its_null_version(s3, bucket):
    for key in ("a", "dir/b", "dir/sub/c", "z"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("a", "null", True), ("dir/b", "null", True), ("dir/sub/c", "null", True), ("z", "null", True)]
    assert "DeleteMarkers" not in listed and listed["IsTruncated"] is False
    assert listed["Versions"][0]["ETag"] == s3.head_object(Bucket=bucket, Key="a")["ETag"]
    grouped = s3.list_object_versions(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [v["Key"] for v in grouped["Versions"]] == ["dir/b"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/sub/"]
    paged = [v["Key"] for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1}) for v in page.get("Versions", [])]
    assert paged == ["a", "dir/b", "dir/sub/c", "z"]
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_a_versioned_bucket_keeps_every_version_and_leaves_delete_markers(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert len({first, second, "null"}) == 3

    def read(**version) -> bytes:
        return s3.get_object(Bucket=bucket, Key="doc", **version)["Body"].read()

    assert (read(), read(VersionId=first), read(VersionId="null")) == (b"two", b"one", b"before versioning")
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=first)["ContentLength"] == 3
    assert _versions(s3, bucket) == ([("doc", second, True), ("doc", first, False), ("doc", "null", False)], [])

    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    marker = deleted["VersionId"]
    assert deleted["DeleteMarker"] is True
    assert _versions(s3, bucket) == ([("doc", second, False), ("doc", first, False), ("doc", "null", False)],
                                     [("doc", marker, True)])
    assert code_of(s3.get_object, Bucket=bucket, Key="doc") == "NoSuchKey"
    assert code_of(s3.get_object, Bucket=bucket, Key="doc", VersionId=marker) == "MethodNotAllowed"
    assert read(VersionId=second) == b"two"
    assert "doc" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)  # the newest version is current again
    assert read() == b"two"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=second)
    assert read() == b"one"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=first)
    assert read() == b"before versioning"
    assert code_of(s3.get_object, Bucket=bucket, Key="doc", VersionId=first) == "NoSuchVersion"
    assert code_of(s3.get_object, Bucket=bucket, Key="doc", VersionId="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") == \
        "InvalidArgument"


def test_suspended_versioning_writes_the_null_version_and_keeps_the_others(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_object(Bucket=bucket, Key="k", Body=b"null 1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null 2")  # replaces the null version: one per key
    assert _versions(s3, bucket) == ([("k", "null", True), ("k", kept, False)], [])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null 2"
    assert s3.delete_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    assert _versions(s3, bucket) == ([("k", kept, False)], [("k", "null", True)])


def test_a_versioned_bucket_is_emptied_the_way_tools_empty_it(server, s3, bucket):
    """boto3's resource API (`bucket.object_versions.delete()`: ListObjectVersions then
    DeleteObjects naming each version), what many tools' clean-up does; a bucket still
    holding versions is not empty."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n in range(3):
        s3.put_object(Bucket=bucket, Key="a", Body=b"%d" % n)
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    s3.delete_object(Bucket=bucket, Key="b")
    assert "Contents" in s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="a")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert code_of(s3.delete_bucket, Bucket=bucket) == "BucketNotEmpty"
    resource = boto3.resource("s3", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id=server.access_key_id,
                              aws_secret_access_key=server.secret_access_key)
    resource.Bucket(bucket).object_versions.delete()
    assert s3.list_object_versions(Bucket=bucket).get("Versions") is None
    s3.delete_bucket(Bucket=bucket)
    assert code_of(s3.head_bucket, Bucket=bucket) == "404"


def test_delete_objects_names_versions_and_reports_markers(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="x", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="x", Body=b"new")
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x", "VersionId": old}, {"Key": "y"}]})
    deleted = {d["Key"]: d for d in answer["Deleted"]}
    assert deleted["x"]["VersionId"] == old and "DeleteMarker" not in deleted["x"]
    assert deleted["y"]["DeleteMarker"] is True and deleted["y"]["DeleteMarkerVersionId"]
    assert code_of(s3.get_object, Bucket=bucket, Key="x", VersionId=old) == "NoSuchVersion"
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"new"


def test_a_copy_of_an_old_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old bytes")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new bytes")
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"old bytes"
    try:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Disabled"})
        refused = None
    except ClientError as error:
        refused = error.response["Error"]["Code"]
    assert refused == "MalformedXML"
