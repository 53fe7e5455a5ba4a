"""The SCIM endpoint builds its parametrized pydantic models (a list of users, a search, a
patch) once a process. pydantic holds them only weakly: one the garbage collector took was
built again at the next request, and on Python 3.11 building one reads its attribute
docstrings by walking the stack through `inspect.getmodule`, which scans `sys.modules`
(0.1 s with a few hundred modules, more in a web process that has loaded the SDKs)."""

from __future__ import annotations

import gc

import pytest

from tests.scim.test_scim_endpoint import PATCH, ada, call, url

pytestmark = pytest.mark.django_db


def list_search_and_patch(client, scim, person_id: str) -> None:
    assert call(client, scim, "get", url(scim)).status_code == 200
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 5}
    assert call(client, scim, "post", url(scim, "scim_users_search"), search).status_code == 200
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "X"}]}
    one = url(scim, "scim_user", user_id=person_id)
    assert call(client, scim, "patch", one, patch).status_code == 200


def test_a_garbage_collection_makes_no_model_be_built_again(client, scim, models_built):
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    list_search_and_patch(client, scim, person_id)
    gc.collect()
    models_built.clear()
    list_search_and_patch(client, scim, person_id)
    assert models_built == []
