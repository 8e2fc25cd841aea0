"""`runserver` that also reads chunked request bodies (webhooks/devserver.py); otherwise staticfiles' own."""

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver

from webhooks.devserver import chunked_server_class


class Command(StaticfilesRunserver):
    def inner_run(self, *args, **options):
        # The largest body anything here accepts: a delivery, or a form Django would still read.
        limit = max(settings.WEBHOOKS_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
        self.server_cls = chunked_server_class(limit)
        return super().inner_run(*args, **options)
