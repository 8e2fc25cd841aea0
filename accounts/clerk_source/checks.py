"""System checks: warn at startup, one line each, when a Clerk setting is missing or not of its shape.

Django prints them on runserver, migrate and `manage.py check`; ids are clerk_sync.W00N.
Secrets are never echoed, only which entry is wrong and what it looks like instead.
"""

from django.conf import settings
from django.core.checks import Warning, register

from webhooks.inbound.verification import secret_problem, secrets_for


def _looks_like(secret: str) -> str:
    if secret.startswith(("sk_", "pk_")):
        return f" (it looks like a Clerk API key, {secret[:3]}…)"
    return ""


@register()
def clerk_webhook_secret_check(app_configs=None, **kwargs) -> list[Warning]:
    secrets = secrets_for("CLERK_WEBHOOK_SECRET")
    if not secrets:
        return [
            Warning(
                "CLERK_WEBHOOK_SECRET is not set: webhook deliveries are refused with 503 until it holds "
                "the endpoint's Signing Secret (whsec_…) from the Clerk Dashboard.",
                id="clerk_sync.W001",
            )
        ]
    return [
        Warning(
            f"CLERK_WEBHOOK_SECRET entry {position} of {len(secrets)} is not a whsec_… signing secret "
            f"(whsec_ followed by base64){_looks_like(secret)}: "
            "copy the endpoint's Signing Secret from the Clerk Dashboard as shown.",
            id="clerk_sync.W002",
        )
        for position, secret in enumerate(secrets, start=1)
        if secret_problem(secret) is not None
    ]


@register()
def clerk_secret_key_check(app_configs=None, **kwargs) -> list[Warning]:
    key = settings.CLERK_SECRET_KEY
    if not key:
        return [
            Warning(
                "CLERK_SECRET_KEY is not set: a user not yet synced by webhook gets 503 from the API "
                "(just-in-time creation needs the sk_… key from the Clerk Dashboard).",
                id="clerk_sync.W003",
            )
        ]
    if not key.startswith("sk_"):
        return [
            Warning(
                f"CLERK_SECRET_KEY is not an sk_… secret key{_looks_like(key)}: Clerk's Backend API will refuse it.",
                id="clerk_sync.W004",
            )
        ]
    return []
