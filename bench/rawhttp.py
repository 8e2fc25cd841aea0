"""The load generator's HTTP: raw HTTP/1.1 requests built ahead of time, sent over one kept-alive socket.

Building every request as bytes before a slice starts leaves the timed loop a
connect (when the server closed the last one), a send and a read.
"""

from __future__ import annotations

import socket


class Connection:
    """One client's HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.opened = 0

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-built request; return (status, body)."""
        reused = self.sock is not None
        if not reused:
            self._open()
        try:
            return self._exchange(raw)
        except (ConnectionError, EOFError):
            self.close()
            if not reused:
                raise
            self._open()  # a kept-alive connection the server had closed: retry once on a new one
            return self._exchange(raw)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _open(self) -> None:
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1

    def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        sock = self.sock
        sock.sendall(raw)
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed before the response headers")
            buffer += chunk
        head, body = buffer[:end], buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, lines[0].startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length is None:  # no length: the body runs until the server closes
            close = True
            while chunk := sock.recv(65536):
                body += chunk
        else:
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed mid-body")
                body += chunk
        if close:
            self.close()
        return status, body


def http_get(host: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: clerk-sync-bench"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_post(host: str, path: str, body: str, headers: dict[str, str]) -> bytes:
    data = body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "User-Agent: clerk-sync-bench",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data
