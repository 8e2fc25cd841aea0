"""The error for an unusable environment variable, which manage.py prints as one line."""

from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """A variable read by config/settings.py is missing or malformed; the message names it."""
