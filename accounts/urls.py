"""``/accounts/``: password reset by e-mail (Django's views, the dashboard's templates)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views


class PasswordResetView(auth_views.PasswordResetView):
    """Links are built on ``SITE_URL``, never on the Host header of whoever asked."""

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL}


urlpatterns = [
    path("password-reset/", PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns += [
    path("two-factor/", views.verify, name="two_factor_verify"),
    path("two-factor/setup/", views.setup, name="two_factor_setup"),
]
