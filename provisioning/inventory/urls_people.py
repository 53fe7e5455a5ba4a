from django.urls import path

from provisioning.inventory import views_people

urlpatterns = [
    path("tenants/<slug:tenant>/people/", views_people.people_list, name="people_list"),
    path(
        "tenants/<slug:tenant>/people/accounts/<int:person_id>/",
        views_people.person_detail,
        name="person_detail",
    ),
]
