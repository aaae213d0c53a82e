from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from evalapp.views import healthz

handler404 = "evalapp.views.not_found"

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
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("checklists.urls")),
    path("", include("annotation.urls")),
]
