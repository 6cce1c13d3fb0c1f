from django.urls import path

from registry import views

urlpatterns = [
    path("", views.home, name="home"),
]

from registry import report_views  # noqa: E402 - reports (issue 6), kept apart from the dashboard's lines

urlpatterns += [
    path("reports/", report_views.reports_page, name="reports"),
    path("reports/export/<slug:kind>.csv", report_views.report_export_csv, name="report_export_csv"),
    path("reports/<slug:name>.csv", report_views.report_table_csv, name="report_table_csv"),
]
