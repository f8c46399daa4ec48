"""Multipart uploads through real boto3: parts in any order, sent again, completed in
place or by copy, and large files through s3transfer."""

import base64
import hashlib
import os
import zlib

from boto3.s3.transfer import TransferConfig
from conftest import code_of


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


def test_upload_part_copy_takes_only_a_range_inside_its_source(s3, bucket):
    source = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    copy = {"Bucket": bucket, "Key": "copied", "UploadId": upload, "CopySource": {"Bucket": bucket, "Key": "src"}}
    for bad_range in ("bytes=0-", "bytes=-5", "5-10", "bytes=10-5", "bytes=0-99999999", "bytes=a-b"):
        assert code_of(s3.upload_part_copy, PartNumber=1, CopySourceRange=bad_range, **copy) in (
            "InvalidArgument", "InvalidRange"), bad_range
    first = s3.upload_part_copy(PartNumber=1, CopySourceRange=f"bytes=0-{5 * 1024 * 1024 - 1}", **copy)
    last = s3.upload_part_copy(PartNumber=2, CopySourceRange=f"bytes={5 * 1024 * 1024}-{len(source) - 1}", **copy)
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": last["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source


def test_a_part_sent_again_replaces_the_earlier_one_whichever_came_first(s3, bucket):
    """The last part to arrive sets nothing apart: a small last part first (setting
    the slot size), then the others, then part 1 again; the completion names the
    bytes sent last."""
    size = 5 * 1024 * 1024
    upload = s3.create_multipart_upload(Bucket=bucket, Key="reordered")["UploadId"]
    bodies = {3: b"short last part", 1: os.urandom(size), 2: os.urandom(size)}
    etags = {n: s3.upload_part(Bucket=bucket, Key="reordered", UploadId=upload, PartNumber=n, Body=body)["ETag"]
             for n, body in bodies.items()}
    bodies[1] = os.urandom(size)
    stale = etags[1]
    etags[1] = s3.upload_part(Bucket=bucket, Key="reordered", UploadId=upload, PartNumber=1, Body=bodies[1])["ETag"]
    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="reordered", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": stale}, {"PartNumber": 2, "ETag": etags[2]},
                  {"PartNumber": 3, "ETag": etags[3]}]}) == "InvalidPart"
    s3.complete_multipart_upload(Bucket=bucket, Key="reordered", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    assert s3.get_object(Bucket=bucket, Key="reordered")["Body"].read() == bodies[1] + bodies[2] + bodies[3]


def test_part_checksums_are_echoed_listed_and_make_the_objects(s3, bucket):
    """An upload created with a ChecksumAlgorithm: each part's checksum comes back with
    UploadPart and ListParts, and the object keeps the checksum of its parts'
    checksums (COMPOSITE, `…-N`), returned with ChecksumMode ENABLED."""
    parts = [os.urandom(5 * 1024 * 1024), b"tail"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="summed", ChecksumAlgorithm="CRC32")["UploadId"]
    sent = [s3.upload_part(Bucket=bucket, Key="summed", UploadId=upload, PartNumber=n, Body=body,
                           ChecksumAlgorithm="CRC32") for n, body in enumerate(parts, 1)]
    crcs = [base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode() for body in parts]
    assert [answer["ChecksumCRC32"] for answer in sent] == crcs
    listed = s3.list_parts(Bucket=bucket, Key="summed", UploadId=upload)["Parts"]
    assert [part["ChecksumCRC32"] for part in listed] == crcs
    done = s3.complete_multipart_upload(Bucket=bucket, Key="summed", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": n, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}
        for n, answer in enumerate(sent, 1)]})
    of_checksums = zlib.crc32(b"".join(base64.b64decode(crc) for crc in crcs))
    expected = f"{base64.b64encode(of_checksums.to_bytes(4, 'big')).decode()}-2"
    assert done["ChecksumCRC32"] == expected
    head = s3.head_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (expected, "COMPOSITE")
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="summed")
