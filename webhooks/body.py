"""Reading a delivery's body, with or without Content-Length, never past the size limit."""

from __future__ import annotations

from django.http import HttpRequest


class BodyTooLarge(Exception):
    """The body is longer than the limit (answered 413)."""


class BodyUnreadable(Exception):
    """A chunked body this server cannot decode (answered 411)."""


def request_body_read(request: HttpRequest, *, limit: int) -> bytes:
    """The body of `request`, at most `limit` bytes.

    Django reads a WSGI body by its Content-Length, so a chunked body (no
    Content-Length) would read as empty. Servers that decode chunked bodies
    say so with `wsgi.input_terminated` (gunicorn does); their `wsgi.input`
    is then read to its end here. Django's development server does not decode
    them: BodyUnreadable, rather than verifying an empty body.
    Raises BodyTooLarge beyond `limit`, reading at most one byte past it.
    """
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit():
        if int(declared) > limit:
            raise BodyTooLarge
        body = request.read(limit + 1)
    elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not request.META.get("wsgi.input_terminated"):
            raise BodyUnreadable
        body = _read_to_end(request.META["wsgi.input"], limit + 1)
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
