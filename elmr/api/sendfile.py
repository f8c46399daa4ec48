"""cheroot's WSGI gateway, sending stored files with sendfile.

A GET's body is a `FileRange` (storage.py). Iterated the WSGI way, every byte of it
is read into Python and written out again through cheroot's writer: for a cold 1 GiB
GET that cost the server ~1.1 s of CPU, taken from the two vCPUs the client's own
threads need. Sent with sendfile, the kernel moves the bytes from the page cache to
the socket and Python only waits. Other bodies, and every body on a TLS connection
(cheroot's TLS adapters bring their own socket types), go the WSGI way."""

import socket

from cheroot.wsgi import Gateway_10

from elmr.api.file_range import FileRange


class SendfileGateway(Gateway_10):
    def respond(self) -> None:
        response = self.req.server.wsgi_app(self.env, self.start_response)
        try:
            if isinstance(response, FileRange) and self._plain_socket():
                self._send_file(response)
            else:
                self._write_chunks(response)
        finally:
            self.req.ensure_headers_sent()
            if hasattr(response, "close"):
                response.close()

    def _plain_socket(self) -> bool:
        return type(self.req.conn.socket) is socket.socket

    def _write_chunks(self, response) -> None:
        """As cheroot's own gateway does."""
        for chunk in filter(None, response):
            if not isinstance(chunk, bytes):
                raise ValueError("WSGI Applications must yield bytes")
            self.write(chunk)

    def _send_file(self, body: FileRange) -> None:
        self.req.ensure_headers_sent()  # written through: they are on the socket now
        if self.req.chunked_write or body.length != self.remaining_bytes_out:
            self._write_chunks(body)  # the app did not set the Content-Length it sends
            return
        sent = body.send_to(self.req.conn.socket)
        self.req.conn.wfile.bytes_written += sent
        self.remaining_bytes_out -= sent
        if sent < body.length:
            # The file was shorter than the Content-Length promised: the client can
            # only tell by the connection closing.
            self.req.close_connection = True
