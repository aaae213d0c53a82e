from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core import checks
from django.http.request import validate_host


class AnnotationConfig(AppConfig):
    """Blinded reader studies: sources, cases, outputs, assignments, ratings, statistics."""

    name = "annotation"

    def ready(self) -> None:
        # The tasks register themselves by job kind with services.task_runs, which queues them:
        # imported here so that the web process knows them too (the worker imports them anyway).
        from annotation import tasks  # noqa: F401
        from annotation.views.language import language_at_sign_in

        user_logged_in.connect(language_at_sign_in, dispatch_uid="language-at-sign-in")
        checks.register(site_url_check)


def site_url_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """SITE_URL's host must be one this site answers to: the links in reminders and notices
    are built from it, and would otherwise lead nowhere (or to another site)."""
    host = urlsplit(settings.SITE_URL).hostname or ""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django allows them with DEBUG on
    if validate_host(host, allowed):
        return []
    return [
        checks.Warning(
            f"SITE_URL={settings.SITE_URL!r}: its host {host!r} is not in ALLOWED_HOSTS, so the "
            "links in reminders and notices would not reach this site.",
            hint="Set SITE_URL to the address people use (with docker-compose, https:// and "
            "EVALAPP_HOST), and name its host in ALLOWED_HOSTS.",
            id="annotation.W001",
        )
    ]
