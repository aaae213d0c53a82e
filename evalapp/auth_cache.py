"""Signed-in users served from the shared cache (Redis), so that a request does not read its
user's row. The cached row is forgotten whenever the row changes or goes, in every process
(evalapp.apps), so a password change, a deactivation or a deletion takes effect at once; Django
still checks the session's hash of the password against it on every request."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from evalapp.apps import user_cache, user_cache_key


class CachedModelBackend(ModelBackend):
    """ModelBackend whose `get_user` reads the cache first when USER_CACHE_SECONDS is set (a
    cache every process shares); with a per-process cache it is ModelBackend itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and username is not None and password is not None:
            # A refused password stops here: the plain ModelBackend listed after this one
            # serves only sessions signed in before this one was, and would hash a wrong
            # password a second time. Any other kind of sign-in goes on down the list.
            raise PermissionDenied
        return user

    def get_user(self, user_id):
        seconds = settings.USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(user_id)
        key = user_cache_key(user_id)
        cache = user_cache()
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None  # no such user, or inactive: nothing to keep
            cache.set(key, user, seconds)
        return user if self.user_can_authenticate(user) else None
