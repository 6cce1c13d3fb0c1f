"""``/api/v1/`` (docs/architecture.md): the router's resources, the worklist, the token
endpoint, the OpenAPI document and a Swagger UI served from local static files (no CDN)."""

from django.contrib.auth.views import redirect_to_login
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from api import views
from api.permissions import HasStaffRole
from api.reports import urlpatterns as report_urls

router = DefaultRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("patients", views.PatientViewSet, basename="patient")
router.register("indications", views.IndicationViewSet, basename="indication")
router.register("screening-trials", views.ScreeningTrialViewSet, basename="screening-trial")
router.register("pumps", views.PumpViewSet, basename="pump")
router.register("refills", views.RefillViewSet, basename="refill")
router.register("dose-changes", views.DoseChangeViewSet, basename="dose-change")
router.register("follow-ups", views.FollowUpViewSet, basename="follow-up")
router.register("goals", views.GoalViewSet, basename="goal")
router.register("goal-reviews", views.GoalReviewViewSet, basename="goal-review")
router.register("complications", views.ComplicationViewSet, basename="complication")
router.register("reminders", views.ReminderViewSet, basename="reminder")

SCHEMA_PERMISSIONS = [IsAuthenticated, HasStaffRole]
# The document does not describe itself (its media types are YAML/JSON OpenAPI, not the API's).
SchemaView = extend_schema_view(get=extend_schema(exclude=True))(SpectacularAPIView)
# Its script is a file of its own (the split view) and its page style too (``api/swagger_ui.html``):
# the page keeps the strict policy.
SwaggerView = SpectacularSwaggerSplitView.as_view(
    url_name="api-schema", permission_classes=SCHEMA_PERMISSIONS, template_name="api/swagger_ui.html"
)


def docs_page(request, *args, **kwargs):
    """A person in a browser who is not logged in is sent to the log-in page and back (a client
    sending a token is answered by the API as usual)."""
    if not request.user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META:
        return redirect_to_login(request.get_full_path())
    return SwaggerView(request, *args, **kwargs)


urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("worklist/", views.WorklistView.as_view(), name="api-worklist"),
    path("schema/", SchemaView.as_view(permission_classes=SCHEMA_PERMISSIONS), name="api-schema"),
    path("docs/", docs_page, name="api-docs"),
    *router.urls,
    # Aggregate and de-identified report endpoints.
    *report_urls,
]
