"""Svix signature verification with one or more secrets (rotation).

Deliveries are verified with the svix library against the raw body bytes.
The library raises WebhookVerificationError for missing headers, a stale or
future timestamp and a wrong signature, but a plain ValueError for the first
malformed entry in the signature header, hiding any valid entry after it.
Clerk's own `verifyWebhook` skips such entries, so malformed entries are
dropped here before the library sees the header.
https://docs.svix.com/receiving/verifying-payloads/how
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from svix.webhooks import Webhook, WebhookVerificationError

from webhooks.errors import Reason, Refused

# Both header families are accepted by the library; only these are passed on.
SIGNATURE_HEADERS = (
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)


def secrets_for(setting_name: str) -> tuple[str, ...]:
    """The secrets in a setting, split on commas and white space."""
    value = getattr(settings, setting_name, "") or ""
    return tuple(part for part in re.split(r"[\s,]+", value) if part)


class SecretProblem(NamedTuple):
    """What is wrong with a configured webhook secret."""

    reason: str  # the svix library's words when it refuses the secret, else what the secret lacks
    unusable: bool  # the svix library refuses it: nothing can be verified or signed with it


def secret_problem(secret: str) -> SecretProblem | None:
    """Why `secret` is not a Svix signing secret, whsec_ followed by base64 (padding optional); None when it is.

    The one test of a secret's shape: verification and `send_clerk_webhook` stop at an
    `unusable` one, the startup check (accounts/clerk_source/checks.py) warns about any.
    The library itself is more lenient: it strips whsec_ only when present and skips
    characters that are not base64, so a secret can be usable without being of the shape.
    """
    try:
        Webhook(secret)
    except Exception as exc:  # bad base64 or an empty secret
        return SecretProblem(str(exc), unusable=True)
    encoded = secret.removeprefix("whsec_")
    try:
        shaped = encoded != secret and bool(b64decode(encoded + "=" * (-len(encoded) % 4), validate=True))
    except (binascii.Error, ValueError):
        shaped = False
    return None if shaped else SecretProblem("not whsec_ followed by base64", unusable=False)


@lru_cache(maxsize=8)
def _verifiers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    for secret in secrets:
        problem = secret_problem(secret)
        if problem is not None and problem.unusable:
            raise ImproperlyConfigured(f"a configured webhook secret is not a valid whsec_ secret: {problem.reason}")
    return tuple(Webhook(secret) for secret in secrets)


def signature_verify(body: bytes, headers: Mapping[str, str], *, setting_name: str) -> None:
    """Return if any configured secret signed `body`; raise Refused otherwise.

    Raises ImproperlyConfigured when the setting holds no secret or an invalid one.
    """
    secrets = secrets_for(setting_name)
    if not secrets:
        raise ImproperlyConfigured(f"{setting_name} is not set: webhook deliveries cannot be verified.")
    wanted = {name: headers[name] for name in SIGNATURE_HEADERS if name in headers}
    header = "svix-signature" if "svix-signature" in wanted else "webhook-signature"  # the one the library reads
    well_formed = [entry for entry in wanted.get(header, "").split() if _well_formed(entry)]
    all_malformed = bool(wanted.get(header)) and not well_formed
    if all_malformed:
        # The library still checks the other headers and the timestamp first;
        # an empty v1 entry then simply matches nothing.
        wanted[header] = "v1,"
    elif well_formed:
        wanted[header] = " ".join(well_formed)
    error = Refused(Reason.BAD_SIGNATURE, "no signature matched")
    for verifier in _verifiers(secrets):
        try:
            verifier.verify(body, wanted)
            return
        except WebhookVerificationError as exc:
            error = _classify(str(exc))
        if error.reason != Reason.BAD_SIGNATURE:
            break  # headers and timestamp are the same for every secret
    if error.reason == Reason.BAD_SIGNATURE and all_malformed:
        raise Refused(Reason.MALFORMED_SIGNATURE, "malformed signature header: no well-formed entry")
    raise error


def _well_formed(entry: str) -> bool:
    """A `version,base64-signature` entry, as Svix sends one per signing secret."""
    version, comma, signature = entry.partition(",")
    if not (version and comma and signature) or "," in signature:
        return False
    try:
        b64decode(signature, validate=True)
    except binascii.Error:
        return False
    return True


def _classify(message: str) -> Refused:
    if message == "Missing required headers":
        return Refused(Reason.MISSING_SIGNATURE, "missing svix-id, svix-timestamp or svix-signature")
    if "timestamp" in message.lower() or message == "Invalid Signature Headers":
        return Refused(Reason.BAD_TIMESTAMP, f"timestamp refused: {message}")
    return Refused(Reason.BAD_SIGNATURE, message)
