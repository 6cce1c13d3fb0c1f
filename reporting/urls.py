from django.urls import path

from reporting import views

urlpatterns = [
    path("reports/", views.reports_page, name="reports"),
    path("reports/export/<slug:kind>.csv", views.report_export_csv, name="report_export_csv"),
    path("reports/<slug:name>.csv", views.report_table_csv, name="report_table_csv"),
]
