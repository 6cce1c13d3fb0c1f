"""``/fhir/``: metadata, search and read of each resource type, $everything and bulk export."""

from django.urls import path

from fhir_api import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("$export", views.ExportView.as_view(), name="fhir-export"),
    path("Patient/$export", views.ExportView.as_view(), name="fhir-patient-export"),
    path("Group/<str:group_id>/$export", views.ExportView.as_view(), name="fhir-group-export"),
    path("bulk-status/<uuid:export_id>", views.ExportStatusView.as_view(), name="fhir-export-status"),
    path("bulk-files/<uuid:export_id>/<str:file_name>", views.ExportFileView.as_view(), name="fhir-export-file"),
    path("Patient/<str:resource_id>/$everything", views.EverythingView.as_view(), name="fhir-everything"),
    path("<str:resource_type>", views.SearchView.as_view(), name="fhir-search"),
    path("<str:resource_type>/<str:resource_id>", views.ReadView.as_view(), name="fhir-read"),
]
