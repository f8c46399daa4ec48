"""Stored files go out through sendfile, whole and in ranges, on elmr's real HTTP
server (cheroot with elmr's gateway, in this process)."""

import http.client
import os
import threading
from pathlib import Path

import pytest
from werkzeug.wrappers import Response

from elmr.api import file_range
from elmr.api.file_range import FileRange
from elmr.server import _http_server


@pytest.fixture
def serve(monkeypatch):
    """Start the server on `app`; yields a function that does so and returns a
    connection to it, and counts the ranges that went out by sendfile."""
    sent_by_sendfile = []
    real_send_to = FileRange.send_to

    def counting_send_to(body, sock):
        sent_by_sendfile.append(body.length)
        return real_send_to(body, sock)

    monkeypatch.setattr(FileRange, "send_to", counting_send_to)
    started = []

    def start(app):
        server = _http_server("127.0.0.1", 0, app)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        started.append((server, thread))
        return http.client.HTTPConnection("127.0.0.1", server.bind_addr[1], timeout=30)

    start.sent_by_sendfile = sent_by_sendfile
    yield start
    for server, thread in started:
        server.stop()
        thread.join(timeout=30)


def _file_app(path: Path, start: int, end: int, content_length: int):
    def app(environ, start_response):
        opened = open(path, "rb")  # noqa: SIM115 (the FileRange owns it; the server closes the response)
        response = Response(FileRange(opened, start, end), direct_passthrough=True,
                            headers={"Content-Length": str(content_length)})
        return response(environ, start_response)
    return app


def test_a_whole_file_and_a_range_arrive_intact_through_sendfile(serve, tmp_path):
    body = os.urandom(3 * file_range.SEND_CHUNK + 4321)  # several sendfile calls
    path = tmp_path / "object"
    path.write_bytes(body)
    whole = serve(_file_app(path, 0, len(body) - 1, len(body)))
    whole.request("GET", "/")
    assert whole.getresponse().read() == body
    whole.request("GET", "/")  # the connection stays usable for the next request
    assert whole.getresponse().read() == body

    start, end = 1000, 2 * file_range.SEND_CHUNK + 17
    ranged = serve(_file_app(path, start, end, end - start + 1))
    ranged.request("GET", "/")
    assert ranged.getresponse().read() == body[start:end + 1]
    assert serve.sent_by_sendfile == [len(body), len(body), end - start + 1]


def test_a_file_shorter_than_its_length_closes_the_connection(serve, tmp_path):
    """A client must not wait for bytes that will never come, nor take the next
    response's bytes for them: the server closes the connection after what it has."""
    path = tmp_path / "object"
    path.write_bytes(b"x" * 1000)
    connection = serve(_file_app(path, 0, 1999, 2000))  # recorded as 2000 bytes
    connection.timeout = 5  # less than the server's idle timeout, which would close it too
    connection.request("GET", "/")
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead) as raised:
        response.read()
    assert raised.value.partial == b"x" * 1000


def test_a_body_of_another_length_than_declared_goes_the_wsgi_way(serve, tmp_path):
    """Only a range the Content-Length describes goes out whole by sendfile; anything
    else gets cheroot's own checks, which cut what exceeds the declared length."""
    path = tmp_path / "object"
    path.write_bytes(b"0123456789")
    connection = serve(_file_app(path, 0, 9, 4))
    connection.request("GET", "/")
    assert connection.getresponse().read() == b"0123"
    assert serve.sent_by_sendfile == []
