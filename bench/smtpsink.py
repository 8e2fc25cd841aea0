"""A local SMTP server in a process of its own for mail.py: it accepts every message and counts them.

    python bench/smtpsink.py    prints {"port": N} once listening; at the end of its standard input
                                prints {"messages": M, "recipients": R} (R: distinct addresses) and exits

The test suite's SmtpServer (accounts/tests/smtp_server.py) in its ACCEPT mode:
a normal conversation, one thread per connection, every message answered 250.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts.tests.smtp_server import SmtpServer  # noqa: E402 (after the path above)


def main() -> None:
    server = SmtpServer().start()
    print(json.dumps({"port": server.port}), flush=True)
    sys.stdin.read()  # until mail.py closes the pipe (or exits)
    server.stop()
    recipients = {address for message in server.messages for address in message.recipients}
    print(json.dumps({"messages": server.message_count(), "recipients": len(recipients)}), flush=True)


if __name__ == "__main__":
    main()
