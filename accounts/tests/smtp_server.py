"""A local SMTP server for the tests: accepting, refusing, failing with 451, stalling, hanging, slow as told."""

from __future__ import annotations

import email
import email.policy
import enum
import socketserver
import threading
from dataclasses import dataclass

WAIT_TIMEOUT = 60  # bounds every wait on the server; only trips when something hangs


class Mode(enum.StrEnum):
    ACCEPT = "accept"  # a normal conversation: the message is accepted (250) and recorded
    REFUSE = "refuse"  # nothing listens on the port: connections are refused
    TEMPFAIL = "451"  # every recipient is answered 451 (try again later)
    HANG = "hang"  # the message is read, then no answer ever comes (until the mode changes)
    STALL = "stall"  # a connection is accepted, then nothing is said, not even a greeting (until the mode changes)


@dataclass(frozen=True)
class Message:
    recipients: tuple[str, ...]
    raw: bytes

    @property
    def subject(self) -> str:
        return str(email.message_from_bytes(self.raw, policy=email.policy.default)["subject"])


class SmtpServer:
    """An SMTP server on 127.0.0.1 (port 0: the system picks), one thread per connection.

    `connections` counts TCP connections accepted, `open_conversations` those
    not ended yet; `messages` holds the messages taken: answered 250, or still
    waiting for a delayed 250 (a real server queues a message before it
    answers). In HANG mode a connection that sent its message waits,
    unanswered, until the mode changes or the server stops; `hanging` is set
    while one does. STALL keeps every new connection silent the same way.
    STARTTLS is offered, but the server has no certificate: after its 220
    it never answers the handshake (until the server stops).
    `delay_replies` makes every reply, or only the one to the message, come
    that many seconds late; changing the delay ends the waits under way.
    """

    def __init__(self) -> None:
        self.port = 0
        self.mode = Mode.ACCEPT
        self.connections = 0
        self.open_conversations = 0
        self.messages: list[Message] = []
        self.refused_recipients: set[str] = set()  # answered 550 whatever the mode, the conversation going on
        self.hanging = threading.Event()
        self._release = threading.Event()
        self._reply_delay = 0.0
        self._delay_message_reply_only = False
        self._delay_changed = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> SmtpServer:
        self._listen()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._release.set()
        self._delay_changed.set()
        self._close()

    def set_mode(self, mode: Mode) -> None:
        if mode == Mode.REFUSE:
            self._close()
        elif self._server is None:
            self._listen()  # the same port again: what was refused is now answered
        with self._lock:
            previous, self.mode = self.mode, mode
            if previous in (Mode.HANG, Mode.STALL) and mode != previous:
                self._release.set()  # hung conversations end, their messages unanswered
                self._release = threading.Event()
                self.hanging.clear()

    def delay_replies(self, seconds: float, *, to_the_message_only: bool = False) -> None:
        """Answer every command (the greeting included), or only the end of a message, `seconds` late."""
        with self._lock:
            self._reply_delay, self._delay_message_reply_only = seconds, to_the_message_only
            self._delay_changed.set()  # waits under way end now
            self._delay_changed = threading.Event()

    def messages_to(self, address: str) -> list[Message]:
        with self._lock:
            return [message for message in self.messages if address in message.recipients]

    def message_count(self) -> int:
        with self._lock:
            return len(self.messages)

    # --- internals -------------------------------------------------------------------------------

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="smtp-server", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT_TIMEOUT)

    def _connected(self) -> bool:
        """Count the connection; in STALL mode wait, silent, for release and return False."""
        with self._lock:
            self.connections += 1
            self.open_conversations += 1
            mode, release = self.mode, self._release
        if mode == Mode.STALL:
            release.wait(timeout=WAIT_TIMEOUT * 5)
            return False
        return True

    def _ended(self) -> None:
        with self._lock:
            self.open_conversations -= 1

    def _wait_before_reply(self, *, to_the_message: bool) -> None:
        with self._lock:
            delay, message_only, changed = self._reply_delay, self._delay_message_reply_only, self._delay_changed
        if delay and (to_the_message or not message_only):
            changed.wait(timeout=delay)

    def _received(self, message: Message) -> bool:
        """Take the message and return True, or (in HANG mode) wait for release and return False."""
        with self._lock:
            mode, release = self.mode, self._release
            if mode != Mode.HANG:
                self.messages.append(message)
                return True
            self.hanging.set()
        release.wait(timeout=WAIT_TIMEOUT * 5)
        return False


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: SmtpServer


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        owner: SmtpServer = self.server.owner
        try:
            if owner._connected():
                self._converse(owner)
        except ConnectionError:
            pass  # the client hung up, perhaps while a reply was delayed
        finally:
            owner._ended()

    def _converse(self, owner: SmtpServer) -> None:
        self._reply("220 test.local ESMTP ready")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line[:4].upper()
            if command == b"EHLO":
                self._reply("250-test.local", "250-STARTTLS", "250 8BITMIME")
            elif line.upper().startswith(b"STARTTLS"):
                self._reply("220 go ahead")
                owner._stopped.wait(timeout=WAIT_TIMEOUT * 5)
                return
            elif command in (b"HELO", b"RSET", b"NOOP"):
                recipients = [] if command == b"RSET" else recipients
                self._reply("250 ok")
            elif command == b"MAIL":
                recipients = []
                self._reply("250 ok")
            elif command == b"RCPT":
                recipient = line.split(b":", 1)[1].strip().strip(b"<>").decode()
                if owner.mode == Mode.TEMPFAIL:
                    self._reply("451 4.3.0 try again later")
                    continue
                if recipient in owner.refused_recipients:
                    self._reply("550 5.1.1 no such mailbox")
                    continue
                recipients.append(recipient)
                self._reply("250 ok")
            elif command == b"DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                raw = self._read_data()
                if not owner._received(Message(tuple(recipients), raw)):
                    return  # hung until released: close without ever answering
                self._reply("250 queued", to_the_message=True)
            elif command == b"QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")

    def _read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _reply(self, *lines: str, to_the_message: bool = False) -> None:
        self.server.owner._wait_before_reply(to_the_message=to_the_message)
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())
