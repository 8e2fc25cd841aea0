"""Django's development server, taught to read chunked request bodies as gunicorn does.

Django's server reads a body by its Content-Length only, so a chunked delivery
reached the app as an empty body. This request handler decodes a chunked body
before the app sees the request and passes it on with a Content-Length. It
decodes at most `limit` bytes plus one; beyond that the app gets the first
limit+1 bytes (and answers 413) and the connection is closed, so the unread
rest is never taken for a next request. Used by `manage.py runserver`
(webhooks/management/commands/runserver.py).
"""

from __future__ import annotations

import io

from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

MAX_LINE = 65537


class ChunkedBodyError(ValueError):
    pass


def chunked_body_read(stream, *, most: int) -> tuple[bytes, bool]:
    """Decode a chunked body from `stream`: (at most `most` bytes, whether the whole body was read).

    Raises ChunkedBodyError for framing that is not chunked encoding.
    """
    chunks, size = [], 0
    while True:
        line = stream.readline(MAX_LINE)
        try:
            length = int(line.split(b";", 1)[0].strip(), 16)  # extensions after ';' are ignored
        except ValueError:
            raise ChunkedBodyError(f"bad chunk size line {line[:40]!r}") from None
        if length < 0:
            raise ChunkedBodyError("negative chunk size")
        if length == 0:
            while stream.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields: ignored
            return b"".join(chunks), True
        if size + length > most:
            chunks.append(stream.read(most - size))
            return b"".join(chunks), False
        chunk = stream.read(length)
        if len(chunk) < length:
            raise ChunkedBodyError("connection closed inside a chunk")
        chunks.append(chunk)
        size += length
        if stream.readline(MAX_LINE) not in (b"\r\n", b"\n"):
            raise ChunkedBodyError("chunk not followed by CRLF")


class _BodyThenStream(io.RawIOBase):
    """The decoded body first, then the connection's stream (for the next request)."""

    def __init__(self, body: bytes, stream) -> None:
        self._body = io.BytesIO(body)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._body.read(size)
        return data if data or size == 0 else self._stream.read(size)

    def readline(self, size: int = -1) -> bytes:
        line = self._body.readline(size)
        return line if line else self._stream.readline(size)


class ChunkedRequestHandler(WSGIRequestHandler):
    limit: int = 0  # set by the server class: the largest body worth decoding

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        encoding = self.headers.get("Transfer-Encoding", "")
        if "chunked" not in encoding.lower() or "Content-Length" in self.headers:
            return True
        try:
            body, complete = chunked_body_read(self.rfile, most=self.limit + 1)
        except ChunkedBodyError as exc:
            self.close_connection = True
            self.send_error(400, f"malformed chunked body: {exc}")
            return False
        if not complete:
            self.close_connection = True  # the rest of the body was never read
        del self.headers["Transfer-Encoding"]
        self.headers["Content-Length"] = str(len(body))
        self.rfile = _BodyThenStream(body, self.rfile)
        return True


def chunked_server_class(limit: int) -> type[WSGIServer]:
    """A WSGIServer class whose requests may come chunked, decoded up to `limit` bytes."""
    handler = type("ChunkedRequestHandler", (ChunkedRequestHandler,), {"limit": limit})

    class ChunkedWSGIServer(WSGIServer):
        def finish_request(self, request, client_address) -> None:
            handler(request, client_address, self)

    return ChunkedWSGIServer
