from django.urls import path

from dashboard import calendar, imports, views

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("print/", views.worklist, name="worklist_print"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    # Staff e-mail reminders link here: keep this path stable.
    path("patients/<int:pk>/", views.patient_detail, name="patient"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path(
        "patients/<int:pk>/refills/<int:refill_id>/entered-in-error/",
        views.refill_entered_in_error,
        name="refill_entered_in_error",
    ),
    path(
        "patients/<int:pk>/dose-changes/<int:change_id>/entered-in-error/",
        views.dose_change_entered_in_error,
        name="dose_change_entered_in_error",
    ),
    path("patients/<int:pk>/status/", views.status_change, name="status_change"),
    path("patients/<int:pk>/trials/new/", views.trial_create, name="trial_create"),
    path("patients/<int:pk>/pump/implant/", views.pump_implant, name="pump_implant"),
    path("patients/<int:pk>/pump/replace/", views.pump_replace, name="pump_replace"),
    path("patients/<int:pk>/pump/explant/", views.pump_explant, name="pump_explant"),
    path("patients/<int:pk>/refills/new/", views.refill_create, name="refill_create"),
    path("patients/<int:pk>/refills/preview/", views.refill_preview, name="refill_preview"),
    path("patients/<int:pk>/refill-visits/new/", views.refill_visit_book, name="refill_visit_book"),
    path("patients/<int:pk>/refill-visits/<int:visit_id>/move/", views.refill_visit_move, name="refill_visit_move"),
    path(
        "patients/<int:pk>/refill-visits/<int:visit_id>/cancel/", views.refill_visit_cancel, name="refill_visit_cancel"
    ),
    path("patients/<int:pk>/dose-changes/new/", views.dose_change_create, name="dose_change_create"),
    path("patients/<int:pk>/follow-ups/new/", views.follow_up_create, name="follow_up_create"),
    path(
        "patients/<int:pk>/follow-ups/<int:follow_up_id>/complete/",
        views.follow_up_complete,
        name="follow_up_complete",
    ),
    path(
        "patients/<int:pk>/follow-ups/<int:follow_up_id>/reschedule/",
        views.follow_up_reschedule,
        name="follow_up_reschedule",
    ),
    path("patients/<int:pk>/follow-ups/<int:follow_up_id>/cancel/", views.follow_up_cancel, name="follow_up_cancel"),
    path("patients/<int:pk>/goals/new/", views.goal_create, name="goal_create"),
    path("patients/<int:pk>/goals/<int:goal_id>/review/", views.goal_review, name="goal_review"),
    path("patients/<int:pk>/complications/new/", views.complication_create, name="complication_create"),
    path("imports/", imports.import_page, name="import"),
    path("imports/template.xlsx", imports.import_template, name="import_template"),
    path("imports/<int:pk>/", imports.import_job, name="import_job"),
    path("imports/<int:pk>/confirm/", imports.import_confirm, name="import_confirm"),
    path("calendar/", calendar.calendar_settings, name="calendar_settings"),
    path("calendar/<str:token>.ics", calendar.calendar_feed, name="calendar_feed"),
    path("reminders/", views.inbox, name="inbox"),
    path("reminders/acknowledge/", views.inbox_acknowledge, name="inbox_acknowledge"),
]
