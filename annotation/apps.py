from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core import checks
from django.db.models.signals import post_migrate
from django.http.request import validate_host

from annotation.sso.checks import sso_check


class AnnotationConfig(AppConfig):
    """Blinded reader studies: sources, cases, outputs, assignments, ratings, statistics."""

    name = "annotation"

    def ready(self) -> None:
        # The tasks are not imported here: jobs are queued by their task's name
        # (services.task_runs), and the web process loads neither Celery nor them (issue 22).
        # The worker imports them (evalapp.celery's autodiscovery).
        from annotation.services import audit

        # Sign-ins, sign-outs and failed sign-ins go to the audit trail (Django's own signals
        # are the one place that sees every login, whichever backend or page).
        user_logged_in.connect(audit.signed_in, dispatch_uid="audit-signed-in")
        user_logged_out.connect(audit.signed_out, dispatch_uid="audit-signed-out")
        user_login_failed.connect(audit.sign_in_failed, dispatch_uid="audit-sign-in-failed")
        # Accounts, their rights and API tokens, wherever they change (the admin, a shell).
        from annotation.services import audit_accounts

        audit_accounts.connect()
        # A signed-in user's stored language becomes this browser's (docs/translation.md).
        from annotation.views.language import language_at_sign_in

        user_logged_in.connect(language_at_sign_in, dispatch_uid="language-at-sign-in")
        # Answers kept on this browser for someone else are dropped when another user signs in.
        from annotation.views.consent import kept_answers_of_others_dropped

        user_logged_in.connect(kept_answers_of_others_dropped, dispatch_uid="kept-answers-dropped")
        checks.register(site_url_check)
        checks.register(audit_flushable_check)
        checks.register(audit_flushable_deploy_check, deploy=True)
        checks.register(sso_check)
        # The "Study admins" group and its permission exist on every deployment, demo or not:
        # made after each migrate (Django's own post_migrate has made the permission by then).
        # Imported here, as the tasks are: the services need the models loaded.
        from annotation.services import study_admins_group_ensure

        post_migrate.connect(
            lambda sender, **kwargs: study_admins_group_ensure(),
            sender=self,
            weak=False,
            dispatch_uid="study-admins-group",
        )


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


def audit_flushable_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """AUDIT_LOG_FLUSHABLE lets `manage.py flush` empty the audit log: a test suite's or a
    benchmark's setting, never a live site's. Said by every command that runs the checks
    when DEBUG is off."""
    return _audit_flushable_warning() if not settings.DEBUG else []


def audit_flushable_deploy_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The same under `check --deploy` with DEBUG on (with it off the check above says it)."""
    return _audit_flushable_warning() if settings.DEBUG else []


def _audit_flushable_warning() -> list[checks.CheckMessage]:
    if not settings.AUDIT_LOG_FLUSHABLE:
        return []
    return [
        checks.Warning(
            "AUDIT_LOG_FLUSHABLE is on: `manage.py flush` may empty the audit log.",
            hint="Unset AUDIT_LOG_FLUSHABLE on a site whose audit log counts; only a test "
            "suite's or a benchmark's throwaway database needs it (docs/audit.md).",
            id="annotation.W002",
        )
    ]
