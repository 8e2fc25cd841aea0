"""Why the ledger refuses a delivery: one exception, whoever finds the fault."""

from webhooks.models import WebhookRejection

Reason = WebhookRejection.Reason


class Refused(Exception):
    """A delivery the ledger will not take: answered 400 with `reason`, counted, and not stored.

    Raised by signature verification, by the envelope parser and by a source's
    handlers (with `Reason.BAD_DATA` for data they cannot use; the handler's
    writes roll back). `reason` is a `WebhookRejection.Reason`; `detail` says
    what was wrong, for the log and the sender.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
