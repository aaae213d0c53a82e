"""The project package as an app, for what every process must do at start: forget a cached
signed-in user (evalapp.auth_cache) whenever their row changes or goes, wherever it changed
(the web, the admin, a management command); and keep requests out of DRF's import."""

import sys

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import BaseCache, caches
from django.db import transaction
from django.db.models.signals import post_delete, post_save


def user_cache_key(user_id: object) -> str:
    return f"auth-user:{user_id}"


def user_cache() -> BaseCache:
    """Where signed-in users are kept: with the sessions, where a Redis outage is a miss."""
    return caches["sessions" if "sessions" in settings.CACHES else "default"]


def user_cache_drop(sender, instance, **kwargs) -> None:
    """Forget the cached row now, and again once the change is committed: a request that read
    the old row in between may have cached it."""
    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # a sign-in: the cached copy's other fields still hold, and no outage stops it
    key = user_cache_key(instance.pk)
    cache = user_cache()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


def drf_compat_without_requests() -> bool:
    """Import DRF's `compat` module as though requests were not installed; True if it was
    imported so. DRF imports requests there whenever it can, for its test client alone
    (`rest_framework.test.RequestsClient`), which nothing here uses; requests, urllib3 and
    charset_normalizer are some 6 MB in every web process, which otherwise never calls out
    (issue 22: models are called by the worker, `annotation.core.llm_http`). Nothing changes
    for the rest of the process: once `compat` is imported, `import requests` works as ever.
    Does nothing if either was imported already (a test run's client may have)."""
    if "rest_framework.compat" in sys.modules or "requests" in sys.modules:
        return False
    sys.modules["requests"] = None  # makes `import requests` raise ImportError
    try:
        import rest_framework.compat  # noqa: F401
    finally:
        del sys.modules["requests"]
    return True


class EvalappConfig(AppConfig):
    name = "evalapp"

    def ready(self) -> None:
        # Before the URLs load DRF's views and serializers, which import `compat`.
        drf_compat_without_requests()
        user = get_user_model()
        post_save.connect(user_cache_drop, sender=user, dispatch_uid="user-cache-save")
        post_delete.connect(user_cache_drop, sender=user, dispatch_uid="user-cache-delete")
