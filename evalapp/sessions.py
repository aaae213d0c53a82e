"""Sessions read from the cache and written through to the database (Django's cached_db), with
each cached copy kept for at most SESSION_CACHE_SECONDS rather than the session's whole age:
the database stays the record, and a copy that a failed delete left behind goes within
minutes."""

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache


class _ShortLived:
    """The session cache, with every entry's lifetime capped."""

    def __init__(self, cache: BaseCache, seconds: int) -> None:
        self._cache, self._seconds = cache, seconds

    def _capped(self, timeout) -> int:
        if timeout is DEFAULT_TIMEOUT or timeout is None:
            return self._seconds
        return max(0, min(int(timeout), self._seconds))

    def get(self, key, default=None):
        return self._cache.get(key, default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT) -> None:
        self._cache.set(key, value, self._capped(timeout))

    def delete(self, key):
        return self._cache.delete(key)

    def __contains__(self, key) -> bool:
        return key in self._cache

    def __repr__(self) -> str:
        return f"{self._cache!r} (entries at most {self._seconds} s)"


class SessionStore(CachedDBStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _ShortLived(self._cache, settings.SESSION_CACHE_SECONDS)
