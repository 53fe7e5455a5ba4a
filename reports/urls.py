from django.urls import include, path

from reports import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("audit/", include("reports.urls_audit")),
    path("reports/", views.report_index, name="report_index"),
    path("reports/<slug:tenant>/", views.client_report, name="client_report"),
    path("reports/<slug:tenant>/export.csv", views.client_report_csv, name="client_report_csv"),
    path(
        "dashboard/licences/<slug:tenant>/refresh/",
        views.licences_refresh,
        name="licences_refresh",
    ),
]
