from django.urls import path

from provisioning.api import problem_types, views

urlpatterns = [
    path("account/api-tokens/", views.token_list, name="api_tokens"),
    path("account/api-tokens/new/", views.token_create, name="api_token_create"),
    path(
        "account/api-tokens/<int:api_token_id>/revoke/",
        views.token_revoke,
        name="api_token_revoke",
    ),
    path("api-tokens/", views.token_list_all, name="api_tokens_all"),
    path("api/problems", problem_types.page, name="api_problem_types"),
]
