from django.urls import path

from tenants.outbox import views

urlpatterns = [
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/<int:email_id>/", views.outbox_detail, name="outbox_detail"),
]
