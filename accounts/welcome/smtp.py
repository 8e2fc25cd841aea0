"""Django's SMTP backend with a deadline on the whole conversation, not only on each socket operation.

EMAIL_TIMEOUT bounds each socket operation, so a server answering every
command just under it makes one send last many times longer (seven replies
at 9 s: 63 s). Here every operation (the connection, each command and each
read of a reply, the STARTTLS handshake) waits at most min(EMAIL_TIMEOUT,
the time left); once the deadline has passed the socket is closed and
`DeadlinePassed` raised, so nothing reaches the server after it. Only the
system resolver's lookup of EMAIL_HOST cannot be cut; a deadline it used up
ends the attempt before the connection.

A message sent whole (its final "." included) whose answer did not come
(deadline, EMAIL_TIMEOUT, connection lost) raises `MessageUnconfirmed`: the
server may have queued it already (RFC 1047), so sending it again could
deliver it twice.

Other EMAIL_BACKENDs (console, file, an HTTP API's) are used as they are:
their own timeouts must keep them within the deadline.
"""

from __future__ import annotations

import functools
import io
import smtplib
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.module_loading import import_string

END_OF_DATA = b"\r\n.\r\n"  # how smtplib.SMTP.data ends the message it sends
CUT = "the conversation with the mail server reached the send's deadline and was cut"


class DeadlinePassed(smtplib.SMTPServerDisconnected):
    """The conversation reached its deadline and was cut before the whole message went out."""


class MessageUnconfirmed(smtplib.SMTPServerDisconnected):
    """The whole message went out but the server's answer did not come: it may have been delivered."""


def mail_connection(*, deadline: float) -> BaseEmailBackend:
    """The configured mail backend for one send; Django's SMTP backend bounded by `deadline` (time.monotonic())."""
    if import_string(settings.EMAIL_BACKEND) is SmtpBackend:
        return DeadlineSmtpBackend(deadline=deadline)
    return get_connection()


class DeadlineSmtpBackend(SmtpBackend):
    """Django's SMTP backend whose conversations end by `deadline`; QUIT after an accepted message may be cut."""

    def __init__(self, *, deadline: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline

    @property
    def connection_class(self):
        if self.use_ssl:  # not read from the environment; STARTTLS (EMAIL_USE_TLS) is
            raise ImproperlyConfigured("EMAIL_USE_SSL is not supported for the welcome email; use EMAIL_USE_TLS")
        return functools.partial(DeadlineSMTP, deadline=self.deadline)


class DeadlineSMTP(smtplib.SMTP):
    """smtplib.SMTP whose every socket operation ends by `deadline`, a time.monotonic() value."""

    def __init__(self, *args, deadline: float, **kwargs) -> None:
        self.deadline = deadline
        self._in_data = self._message_sent = False
        super().__init__(*args, **kwargs)  # connects

    def wait_at_most(self) -> float:
        """The timeout for the next socket operation; raises DeadlinePassed when no time is left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(CUT)
        return min(self.timeout, left) if isinstance(self.timeout, int | float) else left

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(host, port, self.wait_at_most())

    def send(self, s) -> None:
        if self.sock:
            try:
                self.sock.settimeout(self.wait_at_most())
            except DeadlinePassed:
                self.close()
                raise
        try:
            super().send(s)
        except smtplib.SMTPServerDisconnected as exc:
            self._raise_if_late(exc)
            raise
        if self._in_data and isinstance(s, bytes) and s.endswith(END_OF_DATA):
            self._message_sent = True

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = io.BufferedReader(_Replies(self))
        try:
            return super().getreply()
        except smtplib.SMTPServerDisconnected as exc:
            self._raise_if_late(exc)
            raise

    def data(self, msg):
        self._in_data, self._message_sent = True, False
        try:
            return super().data(msg)
        except smtplib.SMTPServerDisconnected as exc:
            if self._message_sent:
                raise MessageUnconfirmed(
                    f"the whole message went to the mail server but its answer did not come ({exc}): it may have "
                    "been delivered, so it is not sent again automatically; check the mail server's log, then retry"
                ) from exc
            raise
        finally:
            self._in_data = False

    def starttls(self, *, context=None):
        try:
            return super().starttls(context=None if context is None else _HandshakeByTheDeadline(self, context))
        except OSError as exc:  # smtplib leaves the socket open when the handshake fails
            self.close()
            self._raise_if_late(exc)
            raise

    def _raise_if_late(self, exc: Exception) -> None:
        """smtplib reports a cut (or a timeout at the deadline) as a lost connection: say what it was."""
        if not isinstance(exc, DeadlinePassed) and time.monotonic() >= self.deadline:
            raise DeadlinePassed(CUT) from exc


class _Replies(io.RawIOBase):
    """The server's replies, each read waiting at most what the deadline leaves (makefile()'s, a full timeout)."""

    def __init__(self, smtp: DeadlineSMTP) -> None:
        self._smtp, self._sock = smtp, smtp.sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(self._smtp.wait_at_most())
        return self._sock.recv_into(buffer)


class _HandshakeByTheDeadline:
    """The SSL context for STARTTLS, its handshake bounded like every other operation."""

    def __init__(self, smtp: DeadlineSMTP, context) -> None:
        self._smtp, self._context = smtp, context

    def wrap_socket(self, sock, **kwargs):
        sock.settimeout(self._smtp.wait_at_most())
        return self._context.wrap_socket(sock, **kwargs)
