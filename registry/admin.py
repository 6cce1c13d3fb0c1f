"""The Django admin a coordinator can use on day one.

Every save goes through ``recompute_schedule`` so the stored schedule matches the records; status
is read-only here because it changes only through the state machine (the "change status" action
and the pump services).
"""

from django.contrib import admin
from django.db import transaction
from simple_history.admin import SimpleHistoryAdmin

from registry import models, services


class ScheduleRecomputingAdmin(SimpleHistoryAdmin):
    """Recompute the patient's schedule in the same transaction as an admin save."""

    def patient_of(self, obj):
        return obj.patient

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            services.recompute_schedule(self.patient_of(obj))

    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            services.recompute_schedule(self.patient_of(form.instance))


class ClosedDayInline(admin.TabularInline):
    model = models.ClosedDay
    extra = 0


@admin.register(models.Site)
class SiteAdmin(SimpleHistoryAdmin):
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


class IndicationInline(admin.TabularInline):
    model = models.Indication
    extra = 0


class PumpInline(admin.TabularInline):
    model = models.Pump
    fk_name = "patient"
    extra = 0
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
    show_change_link = True


class GoalInline(admin.TabularInline):
    model = models.Goal
    extra = 0
    fields = ["category", "description", "set_on", "baseline_score", "weight"]
    show_change_link = True


class FollowUpInline(admin.TabularInline):
    model = models.FollowUp
    extra = 0
    fields = ["kind", "due_date", "scheduled_at", "status", "completed_on"]


class StatusChangeInline(admin.TabularInline):
    model = models.StatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "changed_on", "reason", "changed_by", "recorded_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Recompute the schedule of the selected patients")
def recompute(modeladmin, request, queryset):
    for patient in queryset.select_related("site"):
        services.recompute_schedule(patient)
    modeladmin.message_user(request, f"{queryset.count()} schedules recomputed.")


@admin.register(models.Patient)
class PatientAdmin(ScheduleRecomputingAdmin):
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
    readonly_fields = [
        "status",
        "status_changed_on",
        "study_id",
        "next_refill_due",
        "alarm_date",
        "empty_date",
        "refill_due_basis",
        "projected_alarm_date",
        "alarm_date_disagrees",
        "last_refill_at",
        "battery_eri_date",
    ]
    inlines = [IndicationInline, PumpInline, GoalInline, FollowUpInline, StatusChangeInline]
    actions = [recompute]
    date_hierarchy = "next_refill_due"

    def patient_of(self, obj):
        return obj

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            new = obj.pk is None
            if change and "site" in form.changed_data:
                # A change of site is a move dated today: the patient's history stays where it happened.
                to_site, obj.site_id = obj.site, form.initial["site"]
                super().save_model(request, obj, form, change)
                services.move_patient(patient=obj, to_site=to_site, by=request.user)
                obj.refresh_from_db()
                return
            if new and not obj.study_id:
                from registry.services.patients import _new_study_id

                obj.study_id = _new_study_id()
                obj.status_changed_on = services.site_today(obj.site)
            super().save_model(request, obj, form, change)
            if new:
                models.StatusChange.objects.create(
                    patient=obj,
                    from_status="",
                    to_status=obj.status,
                    changed_on=obj.status_changed_on,
                    reason="Registered",
                    changed_by=request.user,
                )

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip())


class RefillInline(admin.TabularInline):
    model = models.Refill
    extra = 0
    fields = [
        "performed_at",
        "volume_removed_ml",
        "expected_residual_ml",
        "volume_after_ml",
        "concentration_mcg_per_ml",
        "daily_dose_mcg",
        "programmer_alarm_date",
        "performed_by",
    ]


class DoseChangeInline(admin.TabularInline):
    model = models.DoseChange
    extra = 0
    fields = ["effective_at", "daily_dose_mcg", "documented_by", "notes"]


@admin.register(models.Pump)
class PumpAdmin(ScheduleRecomputingAdmin):
    list_display = ["patient", "manufacturer", "model", "serial_number", "implant_date", "eri_date", "explant_date"]
    list_filter = ["manufacturer", "patient__site"]
    search_fields = ["serial_number", "patient__mrn", "patient__family_name"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient", "replaces"]
    inlines = [RefillInline, DoseChangeInline]


@admin.register(models.Refill)
class RefillAdmin(ScheduleRecomputingAdmin):
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
    raw_id_fields = ["pump", "performed_by"]
    date_hierarchy = "performed_at"

    def patient_of(self, obj):
        return obj.pump.patient


@admin.register(models.DoseChange)
class DoseChangeAdmin(RefillAdmin):
    list_display = ["pump", "effective_at", "daily_dose_mcg", "documented_by"]
    list_filter = ["pump__patient__site"]
    raw_id_fields = ["pump", "documented_by"]
    date_hierarchy = "effective_at"


class GoalReviewInline(admin.TabularInline):
    model = models.GoalReview
    extra = 0


@admin.register(models.Goal)
class GoalAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "category", "set_on", "baseline_score"]
    list_filter = ["category", "patient__site"]
    search_fields = ["patient__mrn", "patient__family_name", "description"]
    raw_id_fields = ["patient"]
    inlines = [GoalReviewInline]


@admin.register(models.ScreeningTrial, models.Complication, models.FollowUp, models.Indication)
class PatientRecordAdmin(SimpleHistoryAdmin):
    list_filter = ["patient__site"]
    search_fields = ["patient__mrn", "patient__family_name"]
    raw_id_fields = ["patient"]


@admin.register(models.Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["kind", "due_date", "lead_days", "channel", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel", "site"]
    search_fields = ["recipient", "patient__mrn"]
    raw_id_fields = ["patient", "recipient_user", "acknowledged_by"]
    readonly_fields = ["created_at", "claimed_at", "sent_at", "acknowledged_at"]
