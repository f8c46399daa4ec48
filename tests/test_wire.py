"""The wire, kept in one place: who answers what on elmr's one port (routes.py), the
error shape and request ids each family sends, and the signature layer refusing bad
credentials, malformed signatures and odd dates with 4xx, never a 500. Real boto3
clients read the answers, so each code is checked as botocore reports it."""

import http.client
import json
import urllib.parse
from datetime import datetime, timezone
from unittest import mock

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import ElmrServer, s3_client, signed_headers

from elmr.node_protocol import HEARTBEAT_PATH


def refusal(call, *args, **kwargs) -> tuple[str, int, dict]:
    """(the error code botocore reports, the HTTP status, the response metadata)."""
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["ResponseMetadata"]


def raw(server: ElmrServer, method: str, path: str, headers: dict | None = None,
        body: bytes = b"") -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def test_emr_answers_and_refusals_carry_a_request_id(server):
    emr = server.client()
    first, second = (emr.list_clusters()["ResponseMetadata"]["RequestId"] for _ in range(2))
    assert first and second and first != second
    _code, _status, metadata = refusal(emr.describe_cluster, ClusterId="j-NOSUCHCLUSTER")
    assert metadata["RequestId"] not in ("", first, second)


def test_unsigned_emr_request_is_403_missing_authentication_token(server):
    unsigned = server.client(config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    code, status, _ = refusal(unsigned.list_clusters)
    assert (code, status) == ("MissingAuthenticationTokenException", 403)


def test_unknown_access_key_is_403_unrecognized_client(server):
    stranger = server.client(access_key_id="AKIAUNKNOWNUNKNOWN00")
    code, status, _ = refusal(stranger.list_clusters)
    assert (code, status) == ("UnrecognizedClientException", 403)


@pytest.mark.parametrize("target", ["ElasticMapReduce.NoSuchOperation", "DynamoDB_20120810.ListTables",
                                    "ElasticMapReduce.", "no-dot-at-all"])
def test_unknown_target_is_400_unknown_operation(server, target):
    """Signed properly, but naming no operation elmr has: botocore sends what a
    handler registered on its own events makes of the request."""
    emr = server.client()

    def retarget(request, **_):
        request.headers.replace_header("X-Amz-Target", target)

    emr.meta.events.register_first("before-sign.emr.ListClusters", retarget)
    code, status, metadata = refusal(emr.list_clusters)
    assert (code, status) == ("UnknownOperationException", 400)
    assert metadata["RequestId"]


def test_s3_answers_and_errors_carry_both_request_ids(server):
    s3 = s3_client(server)
    listed = s3.list_buckets()["ResponseMetadata"]
    assert len(listed["RequestId"]) == 16 and listed["HostId"]
    code, status, metadata = refusal(s3.head_bucket, Bucket="no-such-bucket-here")
    assert (code, status) == ("404", 404) and metadata["RequestId"] != listed["RequestId"] and metadata["HostId"]
    code, _status, metadata = refusal(s3.list_objects_v2, Bucket="no-such-bucket-here")
    assert code == "NoSuchBucket" and metadata["RequestId"]


def test_the_reserved_prefixes_answer_404_in_emr_json_shape(server):
    for path in ("/console/", "/console/clusters/j-1", "/elmr/agent/v1/nothing", "/elmr/"):
        status, headers, body = raw(server, "GET", path)
        assert status == 404, path
        error = json.loads(body)
        assert error["__type"] == headers["x-amzn-errortype"] == "ResourceNotFoundException"
        assert headers["x-amzn-requestid"]
    # The agents' endpoints are there, for POST, and refuse what is not a node.
    status, _headers, body = raw(server, "POST", HEARTBEAT_PATH, body=b'{"instance_id": "ci-NOBODY"}')
    assert status == 403 and json.loads(body)["__type"] == "AccessDeniedException"


def test_no_bucket_may_take_a_reserved_name_and_s3_clients_get_s3_errors_there(server, tmp_path):
    s3 = s3_client(server)
    for reserved in ("elmr", "console"):
        assert refusal(s3.create_bucket, Bucket=reserved)[:2] == ("BucketAlreadyExists", 409)
        assert refusal(s3.put_object, Bucket=reserved, Key="agent/v1/heartbeat", Body=b"x")[:2] == (
            "NoSuchBucket", 404)
        assert refusal(s3.get_object, Bucket=reserved, Key="k")[:2] == ("NoSuchBucket", 404)
        assert refusal(s3.list_objects_v2, Bucket=reserved)[:2] == ("NoSuchBucket", 404)
    (tmp_path / "f").write_text("x")
    copied = server.aws("s3", "cp", str(tmp_path / "f"), "s3://elmr/key", check=False)
    assert copied.returncode != 0 and "NoSuchBucket" in copied.stderr


def test_a_virtual_hosted_key_under_a_reserved_prefix_is_an_object(server):
    """The Host names the bucket: the path is a key, even one that looks like an
    agent endpoint."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="hosted")
    s3.put_object(Bucket="hosted", Key="elmr/agent/v1/heartbeat", Body=b"just a key")
    host = f"hosted.localhost:{server.port}"
    headers = signed_headers(server, "GET", f"http://{host}/elmr/agent/v1/heartbeat", {"Host": host})
    assert raw(server, "GET", "/elmr/agent/v1/heartbeat", headers)[::2] == (200, b"just a key")


def presigned(server: ElmrServer, service: str, expires_s: int = 60, **query_overrides) -> str:
    """A SigV4 presigned query for `service` (a GET of the bucket list for s3, a
    ListClusters POST for emr), with some of its parameters replaced."""
    if service == "s3":
        sigv4 = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
        url = server.client("s3", config=sigv4).generate_presigned_url("list_buckets", ExpiresIn=expires_s)
    else:
        url = server.client().generate_presigned_url("list_clusters", ExpiresIn=expires_s)
    path, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query))
    params.update(query_overrides)
    return path.split(str(server.port), 1)[1] + "?" + urllib.parse.urlencode(params)


HUGE = str(10 ** 40)


@pytest.mark.parametrize("overrides", [
    {"X-Amz-Expires": HUGE}, {"X-Amz-Expires": "-5"}, {"X-Amz-Expires": "soon"}, {"X-Amz-Expires": "604801"},
    {"X-Amz-Date": "99991231T235959Z", "X-Amz-Expires": "604800"}, {"X-Amz-Date": "00010101T000000Z"},
    {"X-Amz-Date": "2026-01-01"}, {"X-Amz-Date": "20261332T256161Z"},
    {"X-Amz-Signature": "ü" * 64}, {"X-Amz-Credential": "only/three/parts"}, {"X-Amz-Algorithm": "AWS4-HMAC-SHA1"},
], ids=lambda o: ",".join(f"{k}={v[:12]}" for k, v in o.items()))
def test_a_bad_presigned_query_is_refused_never_a_500(server, overrides):
    status, _headers, body = raw(server, "GET", presigned(server, "s3", **overrides))
    assert status in (400, 403), body
    assert body.startswith(b"<?xml") and b"<Code>" in body
    emr_query = presigned(server, "emr", **overrides)
    status, headers, body = raw(server, "POST", emr_query, {"X-Amz-Target": "ElasticMapReduce.ListClusters",
                                                            "Content-Type": "application/x-amz-json-1.1"}, b"{}")
    assert status in (400, 403), body
    assert json.loads(body)["__type"] == headers["x-amzn-errortype"]


def test_a_presigned_query_of_a_week_still_works(server):
    status, _headers, body = raw(server, "GET", presigned(server, "s3", expires_s=604800))
    assert status == 200 and b"ListAllMyBucketsResult" in body


@pytest.mark.parametrize("authorization", [
    "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 Credential=x", "Bearer abc",
    "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz",
    "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/s3/aws4_request,SignedHeaders=;;;,Signature=ab",
    "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=host, Signature=\u00ff\u00fe",
    "AWS AKIA:c2lnbmF0dXJl", "AWS4-HMAC-SHA256 ,,,,===,=,", "\u00e9\u00e8",
])
@pytest.mark.parametrize("amz_date", ["20260101T000000Z", "garbage", "99991231T235959Z", ""])
def test_a_malformed_authorization_header_is_refused_never_a_500(server, authorization, amz_date):
    headers = {"Authorization": authorization, "X-Amz-Date": amz_date}
    status, _headers, body = raw(server, "GET", "/", headers)
    assert status in (400, 403) and body.startswith(b"<?xml"), body
    status, _headers, body = raw(server, "POST", "/", {**headers, "X-Amz-Target": "ElasticMapReduce.ListClusters"},
                                 b"{}")
    assert status in (400, 403) and "__type" in json.loads(body), body


def test_a_signature_from_a_skewed_clock_is_refused_in_each_shape(server):
    emr, s3 = server.client(), s3_client(server)
    long_ago = datetime(2001, 1, 1, tzinfo=timezone.utc)
    # botocore's signers (its own and the CRT's) take the time from this function.
    with mock.patch("botocore.auth.get_current_datetime", return_value=long_ago.replace(tzinfo=None)), \
            mock.patch("botocore.crt.auth.get_current_datetime", return_value=long_ago):
        assert refusal(emr.list_clusters)[:2] == ("InvalidSignatureException", 400)
        assert refusal(s3.list_buckets)[:2] == ("RequestTimeTooSkewed", 403)
