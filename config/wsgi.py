"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from config.errors import ConfigurationError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    application = get_wsgi_application()
except ConfigurationError as exc:
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # another WSGI server: the error as it is
        raise exc from None
    # gunicorn prints an AppImportError as one line and stops, instead of a traceback per worker.
    raise AppImportError(f"ImproperlyConfigured: {exc}") from None
