"""The server's socket reader and the body reader over it, on a real socket pair."""

import os
import socket
import threading

from cheroot.server import KnownLengthRFile

from elmr.api import cheroot_body
from elmr.api.socket_reader import SocketReader


def test_has_data_sees_a_pipelined_request_without_waiting():
    client, server_side = socket.socketpair()
    with client, server_side:
        server_side.settimeout(10)
        reader = SocketReader(server_side)
        assert not reader.has_data()  # nothing sent: answers at once, does not block
        client.sendall(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        assert reader.readline() == b"GET /a HTTP/1.1\r\n"
        assert reader.readline() == b"\r\n"
        assert reader.has_data()  # the second request sits in the buffer
        assert server_side.gettimeout() == 10  # and the socket's timeout is as it was
        assert reader.readline() == b"GET /b HTTP/1.1\r\n"


def test_a_large_body_comes_in_chunks_of_up_to_a_mib_whole():
    """Read a few KiB at a time through the reader's buffer, a large PUT spent its CPU
    on per-chunk overhead (~half its throughput): past what the reader holds already,
    the body goes from the socket straight into one 1 MiB buffer."""
    body = os.urandom(5 * cheroot_body.BUFFER_SIZE + 12345)
    client, server_side = socket.socketpair()
    with client, server_side:
        server_side.settimeout(10)
        sender = threading.Thread(target=client.sendall, args=(b"HEAD\r\n" + body,))
        sender.start()
        reader = SocketReader(server_side)
        assert reader.readline() == b"HEAD\r\n"
        environ = {"wsgi.input": KnownLengthRFile(reader, len(body))}
        received, sizes = bytearray(), []
        for chunk in cheroot_body.socket_chunks(environ, len(body)):
            received += chunk
            sizes.append(len(chunk))
        sender.join()
    assert received == body
    assert len(sizes) <= 8, sizes  # the buffered head, then ~1 MiB each
