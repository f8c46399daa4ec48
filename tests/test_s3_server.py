"""The object store's HTTP serving: pipelined and idle connections, slow clients,
a server killed or stopped mid-request, and one server per data dir."""

import fcntl
import http.client
import os
import select
import signal
import socket
import time
from pathlib import Path

import pytest
from botocore.config import Config
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


def _answer(connection: socket.socket) -> tuple[int, bytes]:
    """The answer the server sends on `connection` (it closes it after)."""
    answer = http.client.HTTPResponse(connection)
    answer.begin()
    return answer.status, answer.read()


SLOW_CLIENTS = 40


def test_slow_clients_keep_no_one_out_and_are_timed_out(tmp_path):
    """Forty clients send half a request and wait: half of them half their headers,
    half their headers and a bit of a 1 MiB body. A ListReleaseLabels on the same port
    is answered at once (it waited 5–19 s behind them), and each slow request gets
    its answer when its timeout passes: 408 for a head never finished, S3's
    RequestTimeout for a body that stopped; nothing is stored."""
    server = ElmrServer(tmp_path / "data", free_port(), extra_args=("--request-timeout", "8"))
    server.start()
    host = f"127.0.0.1:{server.port}"
    slow = []
    try:
        s3_client(server).create_bucket(Bucket="slow")
        for n in range(SLOW_CLIENTS):
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            slow.append(connection)
            if n % 2:
                connection.sendall(f"PUT /slow/head-{n} HTTP/1.1\r\nHost: {host}\r\nContent-Le".encode())
                continue
            headers = signed_headers(server, "PUT", f"http://{host}/slow/body-{n}",
                                     {"Host": host, "Content-Length": str(1024 * 1024)}, content_sha256="UNSIGNED-PAYLOAD")
            head = f"PUT /slow/body-{n} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            connection.sendall(head.encode() + b"x" * 1000)
        staging = server.data_dir / "buckets" / "slow" / ".elmr" / "staging"
        wait_for(lambda: len(list(staging.iterdir())) == SLOW_CLIENTS // 2, 30, 0.05,
                 "every slow body to be in the server's hands")
        impatient = server.client(config=Config(connect_timeout=5, read_timeout=5, retries={"max_attempts": 1}))
        assert impatient.list_release_labels()["ReleaseLabels"]
        answers = [_answer(connection) for connection in slow]
        assert [status for status, _ in answers[1::2]] == [408] * (SLOW_CLIENTS // 2)
        assert all(status == 400 and b"<Code>RequestTimeout</Code>" in body for status, body in answers[::2])
        assert "Contents" not in s3_client(server).list_objects_v2(Bucket="slow")
        assert list(staging.iterdir()) == []
    finally:
        for connection in slow:
            connection.close()
        server.stop_everything()


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(tmp_path):
    """The request line and headers must all arrive within the request timeout, not
    merely each byte within it: a client trickling its head would otherwise hold a
    server thread for as long as it likes."""
    server = ElmrServer(tmp_path / "data", free_port(), extra_args=("--request-timeout", "3"))
    server.start()
    head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'p' * 60}\r\n\r\n".encode()
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            for byte in head:  # a byte a second (the whole head would take over a minute)...
                connection.sendall(bytes([byte]))
                sent += 1
                answered, _, _ = select.select([connection], [], [], 1.0)  # ...until the server answers
                if answered:
                    break
            assert _answer(connection)[0] == 408
            assert sent < len(head) // 3
    finally:
        server.stop_everything()


def test_a_stopped_server_exits_with_a_request_under_way_and_keeps_its_lock_until_then(tmp_path):
    """SIGTERM ends the server even while a request is being received (a wedged one
    once kept it alive at 100% CPU), and the data dir's lock goes only with the
    process: a second server must never start beside a first that still runs."""
    server = ElmrServer(tmp_path / "data", free_port())
    server.start()
    host = f"127.0.0.1:{server.port}"
    try:
        s3_client(server).create_bucket(Bucket="stopping")
        headers = signed_headers(server, "PUT", f"http://{host}/stopping/big",
                                 {"Host": host, "Content-Length": str(64 * 1024 * 1024)},
                                 content_sha256="UNSIGNED-PAYLOAD")
        head = "PUT /stopping/big HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as uploading:
            uploading.sendall(head.encode() + b"x" * (1024 * 1024))
            staging = server.data_dir / "buckets" / "stopping" / ".elmr" / "staging"
            wait_for(lambda: any(p.stat().st_size for p in staging.iterdir()), 30, 0.05, "the upload to be under way")
            lock = server.data_dir / "server.lock"
            os.kill(server.process.pid, signal.SIGTERM)
            lock_freed_while_alive = []

            def exited() -> bool:
                alive = server.process.poll() is None
                if alive and not lock_freed_while_alive and _lock_is_free(lock):
                    lock_freed_while_alive.append(time.monotonic())
                return not alive

            wait_for(exited, 60, 0.02, "the server to exit after SIGTERM")
            exited_at = time.monotonic()
        # The kernel frees the lock as the process exits, a moment before it can be
        # reaped; before the fix it was free for seconds while request threads ran.
        assert all(exited_at - freed_at < 1.0 for freed_at in lock_freed_while_alive)
        assert _lock_is_free(lock)
    finally:
        server.stop_everything()


def _lock_is_free(lock: Path) -> bool:
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
