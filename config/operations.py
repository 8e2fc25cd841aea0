"""What config/settings.py reads for operators: ADMINS, the metrics directory, error tracking; once, at startup."""

from __future__ import annotations

import email.utils
import os

from config.errors import ConfigurationError


def admins_from_env(value: str) -> list[tuple[str, str]]:
    """`Name <address>, Name <address>` (a bare address too) as Django's ADMINS; a malformed entry stops startup."""
    if not value.strip():
        return []
    admins = email.utils.getaddresses([value])
    if any(not address or "@" not in address for _, address in admins):
        raise ConfigurationError("ADMINS must be comma-separated 'Name <address>' entries, e.g. Ops <ops@example.com>.")
    return [(name or address, address) for name, address in admins]


def metrics_dir_ensure(path: str | None) -> None:
    """PROMETHEUS_MULTIPROC_DIR, when set, must exist before any counter is made (gunicorn.conf.py makes its own)."""
    if path:
        os.makedirs(path, exist_ok=True)


def sentry_init(dsn: str, *, environment: str) -> None:
    """Errors to Sentry with the Django integration; no personal data (send_default_pii off), no request bodies."""
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        environment=environment or None,
    )
