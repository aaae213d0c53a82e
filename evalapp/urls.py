from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from annotation.views import language
from annotation.views.sso import LoginView, LogoutView, SsoCallbackView, SsoStartView
from evalapp.views import healthz

handler404 = "evalapp.views.not_found"
handler403 = "evalapp.views.denied"

api_v1 = [
    path("", include("annotation.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # Swagger UI with its start-up script as a file of its own, not inline; its icons are data:
    # images.
    path(
        "docs/",
        csp_update({"img-src": ["data:"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api_schema")
        ),
        name="api_docs",
    ),
    # Redoc also styles its page with <style> elements it makes as it runs, and searches in a
    # worker it makes from a blob: allowed there, and only those; its scripts are held to the
    # policy like every page's. (It also asks cdn.redoc.ly for its logo, which stays refused.)
    path(
        "redoc/",
        csp_update({"img-src": ["data:"], "style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="api_schema")
        ),
        name="api_redoc",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The djangojs catalogue of the user's language: the words the pages' scripts show.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    # Single sign-on (OpenID Connect): 404 until OIDC_RP_CLIENT_ID is set. The provider sends
    # people back to /oidc/callback/, the redirect URI to register with it.
    path("oidc/authenticate/", SsoStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", SsoCallbackView.as_view(), name="oidc_authentication_callback"),
    # mozilla-django-oidc's name for sign-out, for whoever expects it: the same view.
    path("oidc/logout/", LogoutView.as_view(), name="oidc_logout"),
    # Our set_language first: it also stores a signed-in user's choice (annotation.views.language).
    path("i18n/setlang/", language.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("checklists.urls")),
    path("", include("annotation.urls")),
]
