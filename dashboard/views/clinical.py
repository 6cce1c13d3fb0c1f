"""Clinical records of a patient: screening trials, the pump chain, follow-ups, goals and their
reviews, complications."""

from __future__ import annotations

from functools import partial

from django.shortcuts import get_object_or_404

from dashboard import forms
from dashboard.views.shared import active_pump_or_404, patient_form
from registry import services
from registry.models import FollowUp
from registry.services import site_today

trial_create = patient_form(
    forms.ScreeningTrialForm,
    services.record_screening_trial,
    title="Record a screening trial",
    success="Screening trial recorded.",
    initial=lambda patient: {"performed_on": site_today(patient.site)},
)
pump_implant = patient_form(
    forms.ImplantPumpForm,
    services.implant_pump,
    title="Record a pump implant",
    success="Pump implant recorded; the patient is now implanted.",
    initial=lambda patient: {
        "implant_date": site_today(patient.site),
        "alarm_volume_ml": patient.site.default_alarm_volume_ml,
    },
)
pump_replace = patient_form(
    forms.ReplacePumpForm,
    services.replace_pump,
    record=active_pump_or_404,
    bind="pump",
    title="Record a pump replacement",
    success="Pump replacement recorded.",
    initial=lambda pump: {"implant_date": site_today(pump.patient.site)},
)
pump_explant = patient_form(
    forms.ExplantPumpForm,
    services.explant_pump,
    record=active_pump_or_404,
    bind="pump",
    title="Record a pump explant",
    success="Pump explant recorded; nothing is scheduled for this patient any more.",
    initial=lambda pump: {"explant_date": site_today(pump.patient.site)},
)
follow_up_create = patient_form(
    forms.FollowUpForm,
    partial(services.schedule_follow_up, booking=True),
    title="Schedule a follow-up",
    success="Follow-up scheduled.",
)
goal_create = patient_form(
    forms.GoalForm,
    services.set_goal,
    title="Set a goal",
    success="Goal recorded.",
    initial=lambda patient: {"set_on": site_today(patient.site)},
)
complication_create = patient_form(
    forms.ComplicationForm,
    services.record_complication,
    title="Record a complication",
    success="Complication recorded.",
    form_kwargs=lambda request, patient: {"patient": patient},
    initial=lambda patient: {
        "occurred_on": site_today(patient.site),
        "pump": patient.pumps.filter(explant_date__isnull=True).first(),
    },
)

complication_resolve = patient_form(
    forms.ResolveComplicationForm,
    services.resolve_complication,
    record=lambda patient, complication_id: get_object_or_404(
        patient.complications.select_related("patient__site"), pk=complication_id, resolved_on__isnull=True
    ),
    bind="complication",
    title=lambda c: f"Resolved: {c.get_kind_display()} of {c.occurred_on:%d %b %Y}",
    success="Complication marked resolved.",
    initial=lambda c: {"resolved_on": site_today(c.patient.site)},
)


def _follow_up(patient, follow_up_id: int, open_only: bool = False) -> FollowUp:
    follow_ups = patient.follow_ups.select_related("patient__site")
    if open_only:
        follow_ups = follow_ups.filter(status__in=[FollowUp.Status.SCHEDULED, FollowUp.Status.MISSED])
    return get_object_or_404(follow_ups, pk=follow_up_id)


def _follow_up_title(action: str):
    return lambda follow_up: f"{action}: {follow_up.get_kind_display()} due {follow_up.due_date:%d %b %Y}"


follow_up_complete = patient_form(
    forms.CompleteFollowUpForm,
    services.complete_follow_up,
    record=_follow_up,
    bind="follow_up",
    title=_follow_up_title("Complete"),
    success="Follow-up completed.",
    initial=lambda follow_up: {"completed_on": site_today(follow_up.patient.site)},
)
follow_up_reschedule = patient_form(
    forms.RescheduleFollowUpForm,
    services.reschedule_follow_up,
    record=partial(_follow_up, open_only=True),
    bind="follow_up",
    title=_follow_up_title("Reschedule"),
    success=lambda follow_up: f"Follow-up moved to {follow_up.due_date:%a %d %b %Y}.",
    initial=lambda follow_up: {"due_date": follow_up.due_date, "scheduled_at": follow_up.scheduled_at},
)
follow_up_cancel = patient_form(
    forms.CancelFollowUpForm,
    services.cancel_follow_up,
    record=_follow_up,
    bind="follow_up",
    title=_follow_up_title("Cancel"),
    success="Follow-up cancelled.",
)
goal_review = patient_form(
    forms.GoalReviewForm,
    services.review_goal,
    record=lambda patient, goal_id: get_object_or_404(patient.goals.select_related("patient__site"), pk=goal_id),
    bind="goal",
    title=lambda goal: f"Review goal: {goal}",
    success="Goal review recorded.",
    initial=lambda goal: {"reviewed_on": site_today(goal.patient.site)},
)
