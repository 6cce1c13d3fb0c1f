from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.views import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("api.urls")),
    path("fhir/", include("fhir_api.urls")),
    path("", include("reporting.urls")),
    path("", include("dashboard.urls")),
]
