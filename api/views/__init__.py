"""The API's views, one module per resource (``api/urls.py`` maps them)."""

from api.views.auth import TokenView
from api.views.base import IF_MATCH, ClinicalViewSet, CreateReadViewSet, EditableViewSet, RegistryPagination
from api.views.clinical import ComplicationViewSet, FollowUpViewSet, GoalReviewViewSet, GoalViewSet
from api.views.patients import IndicationViewSet, PatientViewSet, ScreeningTrialViewSet
from api.views.pumps import DoseChangeViewSet, PumpViewSet, RefillViewSet
from api.views.reminders import ReminderViewSet
from api.views.sites import SiteViewSet
from api.views.worklist import WorklistView

__all__ = [
    "ClinicalViewSet",
    "ComplicationViewSet",
    "CreateReadViewSet",
    "DoseChangeViewSet",
    "EditableViewSet",
    "FollowUpViewSet",
    "GoalReviewViewSet",
    "GoalViewSet",
    "IF_MATCH",
    "IndicationViewSet",
    "PatientViewSet",
    "PumpViewSet",
    "RefillViewSet",
    "RegistryPagination",
    "ReminderViewSet",
    "ScreeningTrialViewSet",
    "SiteViewSet",
    "TokenView",
    "WorklistView",
]
