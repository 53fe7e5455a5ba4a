"""A user deleted over SCIM and then created again with the same userName (RFC 7644 §3.6:
after a DELETE the service provider "MUST return a 404 (Not Found) error code for all
operations associated with the previously deleted resource", "MUST omit the resource from
future query results" and "SHOULD NOT consider the deleted resource in conflict
calculation": a CREATE with the same userName "SHOULD NOT fail with a 409").

In the portal the person is one row per username: the POST is a rehire of that person (a
restore before the hard delete, a new join after it), with what the POST says, under a new
SCIM id, so the deleted resource's id stays gone (docs/scim.md, *Semantics*)."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal.audit.models import AuditEvent
from provisioning.models import Identity, Job
from tests.scim.test_scim_endpoint import ENTERPRISE, PATCH, ada, call, url

pytestmark = pytest.mark.django_db


def created(client, scim, **extra) -> str:
    response = call(client, scim, "post", url(scim), ada(**extra))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def deleted(client, scim, user_id: str) -> None:
    response = call(client, scim, "delete", url(scim, "scim_user", user_id=user_id))
    assert response.status_code == 204, response.content


def listed(client, scim, query: str) -> dict:
    return call(client, scim, "get", url(scim) + "?filter=" + query).json()


def test_a_deleted_user_posted_again_is_a_rehire_under_a_new_id(client, scim):
    first = created(client, scim)
    deleted(client, scim, first)
    response = call(client, scim, "post", url(scim), ada(title="Senior Analyst"))
    assert response.status_code == 201, response.content
    body = response.json()
    second = body["id"]
    assert second != first
    assert response["Location"].endswith(f"/Users/{second}")
    assert body["meta"]["location"] == response["Location"]
    assert body["active"] is True and body["title"] == "Senior Analyst"

    person = Identity.objects.get(tenant=scim.tenant, username="ada@alpha.test")
    assert Identity.objects.filter(tenant=scim.tenant).count() == 2  # the world's one and Ada
    assert person.status == Identity.Status.JOINER
    assert person.attributes["job_title"] == "Senior Analyst"
    kinds = list(person.jobs.order_by("pk").values_list("kind", flat=True))
    assert kinds[:3] == [Job.Kind.JOIN, Job.Kind.LEAVE, Job.Kind.RESTORE]
    waiting = (Job.Status.SCHEDULED, Job.Status.HELD)
    assert not person.jobs.filter(kind=Job.Kind.DELETE, status__in=waiting).exists()
    event = AuditEvent.objects.filter(action="scim.user_create").order_by("-pk").first()
    assert event.target_id == str(person.pk)

    got = call(client, scim, "get", url(scim, "scim_user", user_id=second))
    assert got.status_code == 200 and got.json()["id"] == second
    found = listed(client, scim, 'userName eq "ada@alpha.test"')
    assert [r["id"] for r in found["Resources"]] == [second]
    assert listed(client, scim, f'id eq "{second}"')["totalResults"] == 1


def test_the_deleted_resources_id_stays_gone_for_every_operation(client, scim):
    first = created(client, scim)
    deleted(client, scim, first)
    created(client, scim)
    old = url(scim, "scim_user", user_id=first)
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"title": "X"}}]}
    assert call(client, scim, "get", old).status_code == 404
    assert call(client, scim, "patch", old, patch).status_code == 404
    assert call(client, scim, "put", old, ada()).status_code == 404
    assert call(client, scim, "delete", old).status_code == 404
    assert listed(client, scim, f'id eq "{first}"')["totalResults"] == 0
    everyone = listed(client, scim, "userName pr")["totalResults"]
    assert listed(client, scim, f'id ne "{first}"')["totalResults"] == everyone
    person = Identity.objects.get(username="ada@alpha.test")
    assert person.status == Identity.Status.JOINER  # the old id's DELETE left nobody


def test_each_re_creation_has_an_id_of_its_own(client, scim):
    ids = [created(client, scim)]
    for _ in range(2):
        deleted(client, scim, ids[-1])
        ids.append(created(client, scim))
    assert len(set(ids)) == 3
    assert [call(client, scim, "get", url(scim, "scim_user", user_id=i)).status_code
            for i in ids] == [404, 404, 200]  # fmt: skip


def test_after_the_hard_delete_the_post_is_a_new_join_of_the_same_person(client, scim):
    first = created(client, scim)
    deleted(client, scim, first)
    person = Identity.objects.get(username="ada@alpha.test")
    Identity.objects.filter(pk=person.pk).update(status=Identity.Status.DELETED)
    second = created(client, scim, **{ENTERPRISE: {"department": "Ops"}})
    rehire = person.jobs.order_by("-pk").filter(kind=Job.Kind.JOIN).first()
    assert rehire.options.get("rehire") is True
    person.refresh_from_db()
    assert person.status == Identity.Status.JOINER
    # a POST is a join: the rules choose the templates for what it says now
    assert list(person.role_templates.all()) == [scim.world.template]
    group = call(client, scim, "get", url(scim, "scim_group", group_id=scim.world.template.pk))
    members = [m["value"] for m in group.json().get("members", [])]
    assert second in members and first not in members


def test_a_user_never_deleted_is_still_a_conflict(client, scim):
    created(client, scim)
    response = call(client, scim, "post", url(scim), ada(externalId="other"))
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"


def test_a_manager_is_named_by_their_current_id_only(client, scim):
    boss = created(client, scim, userName="boss@alpha.test", externalId="b", **{
        ENTERPRISE: {"employeeNumber": "E-1"}})  # fmt: skip
    deleted(client, scim, boss)
    boss_now = created(client, scim, userName="boss@alpha.test", externalId="b", **{
        ENTERPRISE: {"employeeNumber": "E-1"}})  # fmt: skip
    by_new = created(client, scim, **{ENTERPRISE: {"manager": {"value": boss_now}}})
    body = call(client, scim, "get", url(scim, "scim_user", user_id=by_new)).json()
    assert body[ENTERPRISE]["manager"]["value"] == boss_now
    person = Identity.objects.get(username="ada@alpha.test")
    assert person.attributes["manager"] == "boss@alpha.test"


def test_posted_again_inactive_the_person_stays_left(client, scim):
    first = created(client, scim)
    deleted(client, scim, first)
    response = call(client, scim, "post", url(scim), ada(active=False))
    assert response.status_code == 201, response.content
    assert response.json()["active"] is False and response.json()["id"] != first
    person = Identity.objects.get(username="ada@alpha.test")
    assert person.status == Identity.Status.LEAVER
    assert not person.jobs.filter(kind=Job.Kind.RESTORE).exists()


def test_the_new_resource_says_it_was_created_when_it_was_posted_again(client, scim):
    """RFC 7643 §3.1: `meta.created` is when "the resource was added to the service
    provider": the new resource's, not the person's first join."""
    first = call(client, scim, "post", url(scim), ada()).json()
    deleted(client, scim, first["id"])
    second = call(client, scim, "post", url(scim), ada()).json()
    was, now = (datetime.fromisoformat(b["meta"]["created"]) for b in (first, second))
    assert now > was
    assert datetime.fromisoformat(second["meta"]["lastModified"]) >= now
    later = listed(client, scim, f'meta.created gt "{first["meta"]["created"]}"')
    assert second["id"] in [r["id"] for r in later["Resources"]]
    newest = listed(client, scim, "userName pr&sortBy=meta.created&sortOrder=descending")
    assert newest["Resources"][0]["id"] == second["id"]
