"""The object store's HTTP serving: pipelined and idle connections, slow clients,
a server killed or stopped mid-request, and one server per data dir."""

import http.client
import socket

import pytest
from conftest import ElmrServer, free_port, s3_client, signed_headers, wait_for


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
