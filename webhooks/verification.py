"""Svix signature verification with one or more secrets (rotation).

Deliveries are verified with the svix library against the raw body bytes.
The library raises WebhookVerificationError for missing headers, a stale or
future timestamp and a wrong signature, and plain ValueError (binascii.Error
included) for a malformed signature header, so both are caught here.
https://docs.svix.com/receiving/verifying-payloads/how
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from svix.webhooks import Webhook, WebhookVerificationError

from .models import WebhookRejection

Reason = WebhookRejection.Reason

# Both header families are accepted by the library; only these are passed on.
SIGNATURE_HEADERS = (
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)


class SignatureError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def secrets_for(setting_name: str) -> tuple[str, ...]:
    """The secrets in a setting, split on commas and white space."""
    value = getattr(settings, setting_name, "") or ""
    return tuple(part for part in re.split(r"[\s,]+", value) if part)


@lru_cache(maxsize=8)
def _verifiers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    try:
        return tuple(Webhook(secret) for secret in secrets)
    except Exception as exc:  # bad base64 or an empty secret
        raise ImproperlyConfigured(f"a configured webhook secret is not a valid whsec_ secret: {exc}") from None


def signature_verify(body: bytes, headers: Mapping[str, str], *, setting_name: str) -> None:
    """Return if any configured secret signed `body`; raise SignatureError otherwise.

    Raises ImproperlyConfigured when the setting holds no secret or an invalid one.
    """
    secrets = secrets_for(setting_name)
    if not secrets:
        raise ImproperlyConfigured(f"{setting_name} is not set: webhook deliveries cannot be verified.")
    wanted = {name: headers[name] for name in SIGNATURE_HEADERS if name in headers}
    error = SignatureError(Reason.BAD_SIGNATURE, "no signature matched")
    for verifier in _verifiers(secrets):
        try:
            verifier.verify(body, wanted)
            return
        except WebhookVerificationError as exc:
            error = _classify(str(exc))
        except ValueError as exc:
            raise SignatureError(Reason.MALFORMED_SIGNATURE, f"malformed signature header: {exc}") from None
        if error.reason != Reason.BAD_SIGNATURE:
            break  # headers and timestamp are the same for every secret
    raise error


def _classify(message: str) -> SignatureError:
    if message == "Missing required headers":
        return SignatureError(Reason.MISSING_SIGNATURE, "missing svix-id, svix-timestamp or svix-signature")
    if "timestamp" in message.lower() or message == "Invalid Signature Headers":
        return SignatureError(Reason.BAD_TIMESTAMP, f"timestamp refused: {message}")
    return SignatureError(Reason.BAD_SIGNATURE, message)
