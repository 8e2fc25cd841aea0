"""Each db_worker's mailer: a thread sending the due welcome emails a batch at a time, polling when none is due."""

from __future__ import annotations

from django.conf import settings

from accounts.schedule.periodic import Periodic
from accounts.welcome.delivery import welcome_emails_send_due
from accounts.welcome.records import send_seconds


class Mailer(Periodic):
    """Sends batches of WELCOME_EMAIL_BATCH_SIZE while they come back full, then waits WELCOME_EMAIL_POLL_SECONDS.

    Stopping lets the batch in hand finish and be recorded (at most half a
    lease: its deadline), so a worker stopped by a deploy sends nothing twice.
    """

    def __init__(self) -> None:
        super().__init__(
            "welcome email mailer",
            self.drain,
            settings.WELCOME_EMAIL_POLL_SECONDS,
            keeps_connection=True,  # it polls every second
            stop_wait=send_seconds() + 5,
        )

    def drain(self) -> int:
        """Send due emails until a batch comes back short (nothing more is due) or the worker stops; how many."""
        size, done = settings.WELCOME_EMAIL_BATCH_SIZE, 0
        while not self.stopping:
            claimed = len(welcome_emails_send_due(limit=size))
            done += claimed
            if claimed < size:
                break
        return done
