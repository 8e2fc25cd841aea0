"""The error for an unusable environment variable, which manage.py prints as one line."""

from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """A variable read by config/settings.py is missing or malformed; the message names it."""


def number_at_least(read, name: str, default: float, *, least: float) -> float:
    """The variable `name` read by `read` (env.int, env.float), or a ConfigurationError below `least`."""
    value = read(name, default=default)
    if value < least:
        raise ConfigurationError(f"{name} must be at least {least:g}, not {value:g}.")
    return value
