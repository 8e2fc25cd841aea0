"""Reading a delivery's body, with or without Content-Length, never past the size limit."""

from __future__ import annotations

from django.http import HttpRequest


class BodyTooLarge(Exception):
    """The body is longer than the limit (answered 413)."""


class BodyUnreadable(Exception):
    """A chunked body that cannot be read: 411 where the server does not decode chunked
    bodies, 400 where its framing is broken."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def request_body_read(request: HttpRequest, *, limit: int) -> bytes:
    """The body of `request`, at most `limit` bytes.

    Django reads a WSGI body by its Content-Length, so a chunked body (no
    Content-Length) would read as empty. runserver (webhooks/devserver.py)
    decodes it and passes it on with a Content-Length; servers that pass it
    on still chunked but decoded say so with `wsgi.input_terminated`
    (gunicorn), and their `wsgi.input` is then read to its end here. Other
    servers (Django's test live server): BodyUnreadable, rather than
    verifying an empty body.
    Raises BodyTooLarge beyond `limit`, reading at most one byte past it.
    """
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit():
        if int(declared) > limit:
            raise BodyTooLarge
        body = request.read(limit + 1)
    elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not request.META.get("wsgi.input_terminated"):
            raise BodyUnreadable(411, "this server cannot read chunked bodies; send Content-Length")
        try:
            body = _read_to_end(request.META["wsgi.input"], limit + 1)
        except Exception as exc:  # the server's own parse errors (gunicorn's are plain Exceptions)
            raise BodyUnreadable(400, f"chunked body could not be read: {type(exc).__name__}") from None
    else:
        body = request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge
    return body


def _read_to_end(stream, most: int) -> bytes:
    chunks, size = [], 0
    while size < most:
        chunk = stream.read(min(64 * 1024, most - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
