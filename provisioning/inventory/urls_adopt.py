"""Adoption's routes (tenant pages): one person, a selection of people, and offboarding or
moving any in-scope person from the People page."""

from django.urls import path

from provisioning.inventory import views_adopt

TENANT = "tenants/<slug:tenant>"
PERSON = f"{TENANT}/people/accounts/<int:person_id>"

urlpatterns = [
    path(f"{PERSON}/adopt/", views_adopt.person_adopt, name="person_adopt"),
    path(f"{PERSON}/offboard/", views_adopt.person_offboard, name="person_offboard"),
    path(f"{PERSON}/change/", views_adopt.person_change, name="person_change"),
    path(f"{TENANT}/people/adopt/", views_adopt.people_adopt, name="people_adopt"),
]
