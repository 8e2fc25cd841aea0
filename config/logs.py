"""The logging configuration: one line per record on stderr (text or JSON), Django's own errors still mailed to ADMINS.

Two things differ from Django's defaults plus a root handler: django.* records are printed
once (Django's console handler would print each a second time beside the root's, e.g.
runserver's "Watching for file changes"), and a request refused for its Host header is one
WARNING line, not an ERROR with a traceback (a scanner, or a probe by IP, sends them all day).
"""

from __future__ import annotations

import logging

from config.errors import ConfigurationError

LOG_FORMATS = ("plain", "json")


class OneLineWarning(logging.Filter):
    """Keeps the record's message, drops its traceback, and lowers it to WARNING (never mailed to ADMINS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting: every record at `level` or above on stderr, one line each, with the request id.

    `log_format` "plain" (text) or "json" (LOG_FORMAT=json: one JSON object per line:
    timestamp, level, logger, message, request_id, and a record's extra fields).
    """
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be 'plain' or 'json', not {log_format!r}.")
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
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
        "formatters": {log_format: formatters[log_format]},
        "filters": {
            "request_id": {"()": "config.requests.RequestIdFilter"},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
            "one_line_warning": {"()": OneLineWarning},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]},
            # Django's own, kept: a 500's error is mailed to ADMINS when DEBUG is off.
            "mail_admins": {
                "class": "django.utils.log.AdminEmailHandler",
                "level": "ERROR",
                "filters": ["require_debug_false"],
            },
        },
        "loggers": {
            "django": {"handlers": ["mail_admins"], "level": "INFO"},  # the root's console prints them
            "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
        },
        "root": {"handlers": ["console"], "level": level},
    }
