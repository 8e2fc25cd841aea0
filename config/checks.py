"""The project's own system checks: settings that work in development but are wrong in production.

Registered in ProjectConfig.ready(); ids are clerk_sync.W01N. Silence one on purpose with
SILENCED_SYSTEM_CHECKS (an environment variable too: see docs/configuration.md).
"""

from django.conf import settings
from django.core.checks import Warning

# Backends that send nothing: the mail is printed to the log (console) or kept in memory (locmem).
UNSENT_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints every email, addresses included, to the log",
    "django.core.mail.backends.locmem.EmailBackend": "keeps every email in the process's memory",
}


def email_backend_check(app_configs=None, **kwargs) -> list[Warning]:
    """With DEBUG off, a backend that sends nothing is a mistake: welcome emails would be marked sent, unsent."""
    problem = UNSENT_MAIL_BACKENDS.get(settings.EMAIL_BACKEND)
    if settings.DEBUG or problem is None:
        return []
    return [
        Warning(
            f"DEBUG is off but EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which sends nothing: it {problem}, "
            "and the admin shows each welcome email as sent.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST "
            "(see docs/configuration.md), or SILENCED_SYSTEM_CHECKS=clerk_sync.W010 if no mail is wanted.",
            id="clerk_sync.W010",
        )
    ]
