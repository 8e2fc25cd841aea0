"""runserver that starts listening even when the database cannot be reached, saying so in one line.

It extends the webhooks app's runserver (chunked bodies), itself staticfiles' (static files).
"""

from django.db import DatabaseError, connections

from webhooks.management.commands.runserver import Command as WebhooksRunserver


class Command(WebhooksRunserver):
    def check_migrations(self) -> None:
        """Django's unapplied-migrations notice; an unreachable database is one line, not a dead server.

        The app recovers by itself when the database comes back (/healthz answers 503 until then),
        so the development server keeps serving rather than dying in its thread with a traceback.
        """
        try:
            super().check_migrations()
        except DatabaseError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.stderr.write(
                f"The database cannot be reached ({reason}): check DATABASE_URL. "
                "Serving anyway; /healthz answers 503 until the database is back."
            )
            for connection in connections.all(initialized_only=True):
                connection.close()
