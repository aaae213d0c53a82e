from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from evalapp.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("checklists.urls")),
    path("", include("annotation.urls")),
]
