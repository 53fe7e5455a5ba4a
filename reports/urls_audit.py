from django.urls import path

from reports import views_audit

urlpatterns = [
    path("", views_audit.audit_list, name="audit_list"),
    path("export.csv", views_audit.audit_export, name="audit_export"),
    path("verify/", views_audit.audit_verify, name="audit_verify"),
]
