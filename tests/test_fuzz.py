"""Fuzzing the EMR API from botocore's model: every member of every operation's input
given values EMR refuses (wrong types, out-of-range and over-long values, NULs,
unpaired surrogates, integers beyond 64 bits, non-finite numbers, deep nesting) must
get EMR's ValidationException naming that member; random valid requests must never
get a 500; and the server must still answer afterwards. Seeded and bounded (a few
thousand requests over one keep-alive connection)."""

import http.client
import json
import random

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import emr_fuzz
from conftest import ElmrServer
from elmr.launcher import free_port

SEED = 1414
VALID_REQUESTS_PER_OPERATION = 12


class RawEmr:
    """Signed EMR requests with exactly the body given (boto3 would refuse or
    re-encode the bad values)."""

    def __init__(self, server: ElmrServer):
        self.server = server
        self.credentials = Credentials(server.access_key_id, server.secret_access_key)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def call(self, operation: str, body: bytes) -> tuple[int, dict]:
        request = AWSRequest(method="POST", url=self.server.url + "/", data=body, headers={
            "X-Amz-Target": f"ElasticMapReduce.{operation}",
            "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(self.credentials, "elasticmapreduce", "us-east-1").add_auth(request)
        try:
            self.connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
            answer = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # one retry on a fresh connection, then the error stands
            self.connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
            answer = self.connection.getresponse()
        data = answer.read()
        try:
            return answer.status, json.loads(data)
        except ValueError:
            return answer.status, {"__type": "(not JSON)", "message": data[:200].decode(errors="replace")}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    """A server of its own that can launch no node: a request the fuzzer gets
    accepted must not start a real cluster."""
    running = ElmrServer(tmp_path_factory.mktemp("fuzz-data"), free_port(),
                         extra_args=("--max-local-nodes", "0"))
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture(scope="module")
def raw(fuzzed_server):
    return RawEmr(fuzzed_server)


def _model():
    return botocore.session.get_session().get_service_model("emr")


def _assert_alive(server: ElmrServer, raw: RawEmr) -> None:
    assert server.process.poll() is None, server.tail_log()
    status, answer = raw.call("ListClusters", b"{}")
    assert status == 200, answer


def test_every_invalid_member_is_a_validation_error_naming_it(fuzzed_server, raw):
    rng = random.Random(SEED)
    model = _model()
    wrong = []
    sent = 0
    for name in model.operation_names:
        for mutation in emr_fuzz.mutations(model.operation_model(name), rng):
            status, answer = raw.call(name, mutation.body.encode())
            sent += 1
            message = answer.get("message", "")
            named = (f"'{mutation.path}" in message or "nested more than" in message
                     # NaN and Infinity are not JSON: the body as a whole is refused
                     or mutation.what in ("NaN", "infinite") and "not valid JSON" in message)
            if status != 400 or answer.get("__type") != "ValidationException" or not named:
                wrong.append(f"{name} {mutation.path} ({mutation.what}): {status} "
                             f"{answer.get('__type')} {message[:160]}")
    assert sent > 2000
    assert not wrong, f"{len(wrong)} of {sent} bad requests not refused as EMR does:\n" + "\n".join([w for w in wrong if "does not implement" not in w][:60])
    _assert_alive(fuzzed_server, raw)


def _known_resources(server: ElmrServer) -> list[str]:
    """A cluster (its nodes cannot start here, so it ends at once), its group, a
    security configuration, a studio, a notebook bucket: ids the valid requests use."""
    emr, s3 = server.client(), server.client("s3")
    s3.create_bucket(Bucket="fuzz-bucket")
    s3.put_object(Bucket="fuzz-bucket", Key="key.ipynb", Body=b'{"cells": [], "metadata": {}, '
                  b'"nbformat": 4, "nbformat_minor": 5}')
    cluster_id = emr.run_job_flow(Name="fuzzed", ReleaseLabel="emr-7.2.0", Instances={
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 2})["JobFlowId"]
    group_id = emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"][0]["Id"]
    emr.create_security_configuration(Name="fuzz-config", SecurityConfiguration=json.dumps(
        {"InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": 2}}))
    studio_id = emr.create_studio(
        Name="fuzz", AuthMode="IAM", VpcId="vpc-1", SubnetIds=["subnet-1"], ServiceRole="role",
        WorkspaceSecurityGroupId="sg-1", EngineSecurityGroupId="sg-2",
        DefaultS3Location="s3://fuzz-bucket/studio")["StudioId"]
    return [cluster_id, group_id, "fuzz-config", studio_id, "fuzz-bucket", "key.ipynb",
            f"arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/{cluster_id}"]


def test_random_valid_requests_never_get_a_server_error(fuzzed_server, raw, monkeypatch):
    monkeypatch.setattr(emr_fuzz, "KNOWN_IDS", _known_resources(fuzzed_server))
    rng = random.Random(SEED + 1)
    model = _model()
    failed = []
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        for attempt in range(VALID_REQUESTS_PER_OPERATION):
            request = emr_fuzz.valid_value(shape, rng, full=attempt % 3 == 0) if shape else {}
            status, answer = raw.call(name, json.dumps(request).encode())
            if status >= 500 or "__type" not in answer and status != 200:
                failed.append(f"{name} {json.dumps(request)[:300]}: {status} {answer}")
    assert not failed, f"{len(failed)} valid requests failed on the server:\n" + "\n".join(failed[:30])
    _assert_alive(fuzzed_server, raw)


@pytest.mark.parametrize("body, what", [
    (b"{not json", "not JSON"),
    (b'{"Name": "\xff\xfe"}', "not UTF-8"),
    (b"[1, 2]", "not an object"),
    (b"NaN", "a bare NaN"),
    (b'{"ClusterStates": ["RUNNING"], "Marker": ' + b"9" * 5000 + b"}", "an integer of 5,000 digits"),
    (b"[" * 100_000 + b"]" * 100_000, "100,000 levels of nesting"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "50,000 nested objects"),
])
def test_bodies_that_are_not_requests_are_validation_errors(fuzzed_server, raw, body, what):
    status, answer = raw.call("ListClusters", body)
    assert (status, answer["__type"]) == (400, "ValidationException"), what
    _assert_alive(fuzzed_server, raw)
