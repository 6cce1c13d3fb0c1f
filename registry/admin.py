"""The Django admin: sites, closed days and staff roles are edited here; clinical records are read.

Patients and their records (pumps, refills, dose changes, follow-ups, goals, complications, ...)
are shown with their history, but written only through ``registry.services``: from the dashboard,
the API, the import, or an admin action here. So the stored schedule always matches the records
and every rule of a write (confirmations, status, dates) applies to the admin too.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from registry import models, services


class NoWrites:
    """Admin permissions of a record the admin only shows: no add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyRecordAdmin(NoWrites, SimpleHistoryAdmin):
    """A clinical record: list, view and history; no add, edit, delete or revert."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history saves a revert with view permission alone.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyInline(NoWrites, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


class ClosedDayInline(admin.TabularInline):
    model = models.ClosedDay
    extra = 0


@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin):  # sites keep no history model: Django's own change log is theirs
    list_display = ["name", "time_zone", "safety_margin_days", "max_refill_interval_days", "escalation_email"]
    search_fields = ["name"]
    inlines = [ClosedDayInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        count = services.recompute_site(form.instance)
        self.message_user(request, f"Schedules of {count} patients recomputed with the new settings.")


@admin.register(models.StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role"]
    list_filter = ["role", "sites"]
    filter_horizontal = ["sites"]
    search_fields = ["user__username", "user__last_name"]


class IndicationInline(ReadOnlyInline):
    model = models.Indication


class PumpInline(ReadOnlyInline):
    model = models.Pump
    fk_name = "patient"
    fields = [
        "implant_date",
        "manufacturer",
        "model",
        "serial_number",
        "reservoir_volume_ml",
        "alarm_volume_ml",
        "eri_date",
        "explant_date",
        "explant_reason",
    ]


class GoalInline(ReadOnlyInline):
    model = models.Goal
    fields = ["category", "description", "set_on", "baseline_score", "weight"]


class FollowUpInline(ReadOnlyInline):
    model = models.FollowUp
    fields = ["kind", "due_date", "scheduled_at", "status", "completed_on"]


class StatusChangeInline(ReadOnlyInline):
    model = models.StatusChange
    readonly_fields = ["from_status", "to_status", "changed_on", "reason", "changed_by", "recorded_at"]
    show_change_link = False


@admin.action(description="Recompute the schedule of the selected patients")
def recompute(modeladmin, request, queryset):
    patients = list(queryset.select_related("site"))
    for patient in patients:
        services.recompute_schedule(patient)
    modeladmin.message_user(request, f"{len(patients)} schedules recomputed.")


@admin.action(description="Cancel the selected follow-ups")
def cancel_follow_ups(modeladmin, request, queryset):
    done, refused = 0, []
    for visit in queryset.select_related("patient"):
        try:
            services.cancel_follow_up(follow_up=visit, reason="Cancelled in the admin", by=request.user)
        except ValidationError as error:
            refused.append(f"{visit.patient}, {visit}: {' '.join(error.messages)}")
        else:
            done += 1
    modeladmin.message_user(request, f"{done} follow-up{'' if done == 1 else 's'} cancelled.")
    for line in refused:
        modeladmin.message_user(request, line, level=messages.WARNING)


@admin.register(models.Patient)
class PatientAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "mrn",
        "family_name",
        "given_name",
        "site",
        "status",
        "next_refill_due",
        "alarm_date",
        "primary_clinician",
    ]
    list_filter = ["site", "status", "indications__diagnosis", "primary_clinician"]
    search_fields = ["mrn", "family_name", "given_name"]
    list_select_related = ["site", "primary_clinician"]
    inlines = [IndicationInline, PumpInline, GoalInline, FollowUpInline, StatusChangeInline]
    actions = [recompute]
    date_hierarchy = "next_refill_due"

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip())


class RefillInline(ReadOnlyInline):
    model = models.Refill
    # What was documented, without the free text and the manual date (the patient's page shows them).
    fields = [*(f for f in models.REFILL_RECORD_FIELDS if f not in {"manual_due_date", "notes"}), "performed_by"]


class DoseChangeInline(ReadOnlyInline):
    model = models.DoseChange
    fields = ["effective_at", "daily_dose_mcg", "documented_by", "notes"]


@admin.register(models.Pump)
class PumpAdmin(ReadOnlyRecordAdmin):
    list_display = ["patient", "manufacturer", "model", "serial_number", "implant_date", "eri_date", "explant_date"]
    list_filter = ["manufacturer", "patient__site"]
    search_fields = ["serial_number", "patient__mrn", "patient__family_name"]
    list_select_related = ["patient"]
    inlines = [RefillInline, DoseChangeInline]


@admin.register(models.Refill)
class RefillAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "pump",
        "performed_at",
        "volume_after_ml",
        "concentration_mcg_per_ml",
        "daily_dose_mcg",
        "timeliness",
        "residual_discrepancy",
    ]
    list_filter = ["timeliness", "residual_discrepancy", "pump__patient__site"]
    search_fields = ["pump__patient__mrn", "pump__patient__family_name"]
    list_select_related = ["pump__patient"]
    date_hierarchy = "performed_at"


@admin.register(models.DoseChange)
class DoseChangeAdmin(ReadOnlyRecordAdmin):
    list_display = ["pump", "effective_at", "daily_dose_mcg", "documented_by"]
    list_filter = ["pump__patient__site"]
    search_fields = ["pump__patient__mrn", "pump__patient__family_name"]
    list_select_related = ["pump__patient", "documented_by"]
    date_hierarchy = "effective_at"


class GoalReviewInline(ReadOnlyInline):
    model = models.GoalReview
    show_change_link = False


@admin.register(models.Goal)
class GoalAdmin(ReadOnlyRecordAdmin):
    list_display = ["patient", "category", "set_on", "baseline_score"]
    list_filter = ["category", "patient__site"]
    search_fields = ["patient__mrn", "patient__family_name", "description"]
    inlines = [GoalReviewInline]


@admin.register(models.ScreeningTrial, models.Complication, models.Indication)
class PatientRecordAdmin(ReadOnlyRecordAdmin):
    list_filter = ["patient__site"]
    search_fields = ["patient__mrn", "patient__family_name"]


@admin.register(models.FollowUp)
class FollowUpAdmin(ReadOnlyRecordAdmin):
    list_display = ["patient", "kind", "due_date", "status", "completed_on"]
    list_filter = ["status", "kind", "patient__site"]
    search_fields = ["patient__mrn", "patient__family_name"]
    list_select_related = ["patient"]
    actions = [cancel_follow_ups]


@admin.register(models.Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["kind", "due_date", "lead_days", "channel", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel", "site"]
    search_fields = ["recipient", "patient__mrn"]
    raw_id_fields = ["patient", "recipient_user", "acknowledged_by"]
    readonly_fields = ["created_at", "claimed_at", "sent_at", "acknowledged_at"]
