"""The cache that sessions and signed-in users are read from: Redis, but a Redis outage only
makes every read a miss (the database answers) and every write a no-op, so no page fails and
no rater is signed out while Redis is away. A delete is forgiven only when Redis refuses the
connection (it serves no one, so no one reads the entry); one that times out, with Redis
perhaps still serving the old session or user, fails where it is seen rather than pass for a
sign-out. Entries live minutes (evalapp.sessions, USER_CACHE_SECONDS), so what a Redis that
comes back with its data still holds goes soon after. Throttle counts keep the strict
`default` cache."""

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _warn(exc: Exception) -> None:
    log.warning("Redis unreachable for sessions and users; reading the database: %s", exc)


class _ClientPerPool(RedisCacheClient):
    """Django's client makes a new redis.Redis for every call, which sets up its hundreds of
    reply parsers each time: an eighth of a save's Python time, twice a request (session and
    user). One per pool serves every call; redis.Redis is thread-safe, its pool hands out the
    connections and starts afresh in a forked process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class OutageTolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPool

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as exc:
            _warn(exc)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except RedisConnectionError as exc:
            _warn(exc)
            return False
