from django.urls import path

from provisioning.alerts import views

urlpatterns = [path("account/alerts/", views.alert_settings, name="alert_settings")]
