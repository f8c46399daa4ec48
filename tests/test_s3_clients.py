"""Real S3 clients against the object store: the AWS CLI, presigned URLs, s3fs and
pandas, pyarrow's S3FileSystem; and the credentials they must present."""

import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyarrow
import pyarrow.fs
import pyarrow.parquet
import pytest
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, code_of, s3_client, signed_headers, wait_for

from elmr.node_protocol import OBJECT_PATH


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


def test_pyarrow_s3filesystem_writes_lists_and_reads(server, s3, bucket):
    """pyarrow's S3FileSystem (the AWS SDK for C++) uploads every file as a multipart
    upload whose parts go `Transfer-Encoding: chunked` around aws-chunked data with a
    CRC64NVME trailer, after `Expect: 100-continue`: such a part once took a server
    thread to 100% CPU for good, and every later call waited seconds."""
    fs = pyarrow.fs.S3FileSystem(access_key=server.access_key_id, secret_key=server.secret_access_key,
                                 endpoint_override=f"127.0.0.1:{server.port}", scheme="http", region="us-east-1",
                                 connect_timeout=30, request_timeout=60)
    body = os.urandom(12 * 1024 * 1024 + 5)  # more than one of pyarrow's parts
    with fs.open_output_stream(f"{bucket}/raw/blob.bin") as out:
        out.write(body)
    table = pyarrow.table({"fruit": ["apple", "pear", "fig"], "qty": [3, 2, 7]})
    pyarrow.parquet.write_table(table, f"{bucket}/tables/fruit.parquet", filesystem=fs)
    assert s3.get_object(Bucket=bucket, Key="raw/blob.bin")["Body"].read() == body
    with fs.open_input_stream(f"{bucket}/raw/blob.bin") as read_back:
        assert read_back.read() == body
    assert pyarrow.parquet.read_table(f"{bucket}/tables/fruit.parquet", filesystem=fs).equals(table)
    listed = fs.get_file_info(pyarrow.fs.FileSelector(bucket, recursive=True))
    assert sorted(info.path for info in listed if info.type == pyarrow.fs.FileType.File) == [
        f"{bucket}/raw/blob.bin", f"{bucket}/tables/fruit.parquet"]
    fs.delete_file(f"{bucket}/raw/blob.bin")
    assert code_of(s3.head_object, Bucket=bucket, Key="raw/blob.bin") == "404"
    assert server.client().list_release_labels()["ReleaseLabels"]  # and the server answers at once
