"""What config/settings.py reads for operators: ADMINS, the log format, error tracking. Called once, at startup."""

from __future__ import annotations

import email.utils
import os

from config.errors import ConfigurationError

LOG_FORMATS = ("plain", "json")


def admins_from_env(value: str) -> list[tuple[str, str]]:
    """`Name <address>, Name <address>` (a bare address too) as Django's ADMINS; a malformed entry stops startup."""
    if not value.strip():
        return []
    admins = email.utils.getaddresses([value])
    if any(not address or "@" not in address for _, address in admins):
        raise ConfigurationError("ADMINS must be comma-separated 'Name <address>' entries, e.g. Ops <ops@example.com>.")
    return [(name or address, address) for name, address in admins]


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING: one line per record, plain text or (LOG_FORMAT=json) one JSON object, with the request id."""
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}.")
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Each record's extra fields (e.g. `alarm`) are added to its object.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "config.requests.RequestIdFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]},
        },
        "root": {"handlers": ["console"], "level": level},
    }


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
