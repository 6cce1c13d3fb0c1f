"""The API's serializers, one module per resource; ``fields`` holds what they share."""

from api.serializers.auth import TokenRequestSerializer, TokenResponseSerializer
from api.serializers.clinical import (
    ComplicationSerializer,
    FollowUpCancelSerializer,
    FollowUpCompleteSerializer,
    FollowUpSerializer,
    GoalReviewSerializer,
    GoalSerializer,
)
from api.serializers.fields import (
    EARLIEST,
    LATEST,
    RANGE_MESSAGE,
    AwareDateTimeField,
    BoundedDateField,
    RegistryModelSerializer,
    ScopedRelatedField,
    patient_field,
    pump_field,
    scoped_goals,
    scoped_pumps,
    scoped_sites,
)
from api.serializers.patients import (
    IndicationSerializer,
    PatientSerializer,
    ScheduleSerializer,
    ScreeningTrialSerializer,
    StatusChangeSerializer,
    StatusTransitionSerializer,
    patient_representation,
)
from api.serializers.pumps import (
    DoseChangeSerializer,
    PumpExplantSerializer,
    PumpReplaceSerializer,
    PumpSerializer,
    RefillSerializer,
)
from api.serializers.reminders import ReminderSerializer
from api.serializers.sites import SiteSerializer
from api.serializers.worklist import WORK_STATUSES, WorkItemSerializer, WorklistQuerySerializer

__all__ = [
    "AwareDateTimeField",
    "BoundedDateField",
    "ComplicationSerializer",
    "DoseChangeSerializer",
    "EARLIEST",
    "FollowUpCancelSerializer",
    "FollowUpCompleteSerializer",
    "FollowUpSerializer",
    "GoalReviewSerializer",
    "GoalSerializer",
    "IndicationSerializer",
    "LATEST",
    "patient_field",
    "PatientSerializer",
    "patient_representation",
    "pump_field",
    "PumpExplantSerializer",
    "PumpReplaceSerializer",
    "PumpSerializer",
    "RANGE_MESSAGE",
    "RefillSerializer",
    "RegistryModelSerializer",
    "ReminderSerializer",
    "ScheduleSerializer",
    "scoped_goals",
    "scoped_pumps",
    "scoped_sites",
    "ScopedRelatedField",
    "ScreeningTrialSerializer",
    "SiteSerializer",
    "StatusChangeSerializer",
    "StatusTransitionSerializer",
    "TokenRequestSerializer",
    "TokenResponseSerializer",
    "WORK_STATUSES",
    "WorkItemSerializer",
    "WorklistQuerySerializer",
]
