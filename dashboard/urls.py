from django.urls import path

from dashboard.views import calendar, clinical, imports, inbox, patients, refills, worklist

urlpatterns = [
    path("", worklist.worklist, name="worklist"),
    path("print/", worklist.worklist, name="worklist_print"),
    path("patients/", patients.patient_list, name="patient_list"),
    path("patients/new/", patients.patient_create, name="patient_create"),
    # Staff e-mail reminders link here: keep this path stable.
    path("patients/<int:pk>/", patients.patient_detail, name="patient"),
    path("patients/<int:pk>/edit/", patients.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/contacts/new/", patients.contact_create, name="contact_create"),
    path(
        "patients/<int:pk>/refills/<int:refill_id>/entered-in-error/",
        refills.refill_entered_in_error,
        name="refill_entered_in_error",
    ),
    path(
        "patients/<int:pk>/dose-changes/<int:change_id>/entered-in-error/",
        refills.dose_change_entered_in_error,
        name="dose_change_entered_in_error",
    ),
    path("patients/<int:pk>/status/", patients.status_change, name="status_change"),
    path("patients/<int:pk>/trials/new/", clinical.trial_create, name="trial_create"),
    path("patients/<int:pk>/pump/implant/", clinical.pump_implant, name="pump_implant"),
    path("patients/<int:pk>/pump/replace/", clinical.pump_replace, name="pump_replace"),
    path("patients/<int:pk>/pump/explant/", clinical.pump_explant, name="pump_explant"),
    path("patients/<int:pk>/refills/new/", refills.refill_create, name="refill_create"),
    path("patients/<int:pk>/refills/preview/", refills.refill_preview, name="refill_preview"),
    path("patients/<int:pk>/refill-visits/new/", refills.refill_visit_book, name="refill_visit_book"),
    path("patients/<int:pk>/refill-visits/<int:visit_id>/move/", refills.refill_visit_move, name="refill_visit_move"),
    path(
        "patients/<int:pk>/refill-visits/<int:visit_id>/cancel/",
        refills.refill_visit_cancel,
        name="refill_visit_cancel",
    ),
    path("patients/<int:pk>/dose-changes/new/", refills.dose_change_create, name="dose_change_create"),
    path("patients/<int:pk>/follow-ups/new/", clinical.follow_up_create, name="follow_up_create"),
    path(
        "patients/<int:pk>/follow-ups/<int:follow_up_id>/complete/",
        clinical.follow_up_complete,
        name="follow_up_complete",
    ),
    path(
        "patients/<int:pk>/follow-ups/<int:follow_up_id>/reschedule/",
        clinical.follow_up_reschedule,
        name="follow_up_reschedule",
    ),
    path("patients/<int:pk>/follow-ups/<int:follow_up_id>/cancel/", clinical.follow_up_cancel, name="follow_up_cancel"),
    path("patients/<int:pk>/goals/new/", clinical.goal_create, name="goal_create"),
    path("patients/<int:pk>/goals/<int:goal_id>/review/", clinical.goal_review, name="goal_review"),
    path("patients/<int:pk>/complications/new/", clinical.complication_create, name="complication_create"),
    path(
        "patients/<int:pk>/complications/<int:complication_id>/resolve/",
        clinical.complication_resolve,
        name="complication_resolve",
    ),
    path("imports/", imports.import_page, name="import"),
    path("imports/template.xlsx", imports.import_template, name="import_template"),
    path("imports/<int:pk>/", imports.import_job, name="import_job"),
    path("imports/<int:pk>/confirm/", imports.import_confirm, name="import_confirm"),
    path("calendar/", calendar.calendar_settings, name="calendar_settings"),
    path("calendar/<str:token>.ics", calendar.calendar_feed, name="calendar_feed"),
    path("reminders/", inbox.inbox, name="inbox"),
    path("reminders/acknowledge/", inbox.inbox_acknowledge, name="inbox_acknowledge"),
]
