from django.urls import path

from reporting import views

urlpatterns = [
    path("reports/", views.reports_page, name="reports"),
    path("reports/report.pdf", views.report_pdf, name="report_pdf"),
    path("reports/export/<slug:kind>.zip", views.report_export_zip, name="report_export_zip"),
    path("reports/<slug:name>.csv", views.report_table_csv, name="report_table_csv"),
]
