"""Access request pages: the tenant's requests list, filing a request, cancel, revoke, extend,
the inline decision, and the identity page's section. Who may do what (403), another tenant's
objects (404), every bad input (a clear message, nothing created). Requestable resources and
their live directory picker are in test_views_access_resources.py."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.access import services as ar
from provisioning.models import AccessRequest, Identity, Job, RequestableResource
from tests.factories import make_joiner, make_person

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
FILERS = [Role.TECHNICIAN, Role.CLIENT_ADMIN, "msp_admin"]
OPERATORS = [Role.TECHNICIAN, "msp_admin"]


def person(world, role, msp_admin=None):
    return msp_admin if role == "msp_admin" else world.people[role]


def url(name: str, world, **kwargs) -> str:
    return reverse(name, kwargs={"tenant": world.tenant.slug, **kwargs})


def requestable(world, name: str, kind: str = "group", **options) -> RequestableResource:
    resource = RequestableResource(
        tenant=world.tenant,
        connection=world.connection,
        kind=kind,
        remote_id=f"{kind}-{name.lower().replace(' ', '-')}",
        name=name,
        **options,
    )
    return ar.save_requestable(resource, actor="system")


@pytest.fixture
def vpn(alpha):
    return requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)


@pytest.fixture
def co_admin(alpha):
    """A second client admin of alpha: what alpha's client admin files has an approver."""
    return make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])


@pytest.fixture
def wiki(alpha):
    return requestable(alpha, "Alpha Wiki", kind="app")


def local(zone: str, days: int, hour: int = 9) -> datetime:
    """A wall-clock time `days` ahead in `zone` (naive), as a person there types it."""
    day = timezone.now().astimezone(ZoneInfo(zone)).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 30)


def typed(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def file(world, resource, by=None, days: int | None = 10, identity=None) -> AccessRequest:
    ends = timezone.now() + timedelta(days=days) if days else None
    return ar.file_request(
        identity or world.identity,
        resource,
        reason="Needs it for the project",
        ends_at=ends,
        actor=by or world.technician,
    )


def granted(access_request: AccessRequest) -> AccessRequest:
    """As the engine leaves it after a successful grant job."""
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=AccessRequest.Status.GRANTED, added_access=True
    )
    access_request.refresh_from_db()
    return access_request


@pytest.fixture
def no_enqueue(monkeypatch):
    """Jobs are created, not sent to a broker (no worker runs in these tests)."""
    sent = []
    monkeypatch.setattr("provisioning.tasks.run_job.delay", sent.append)
    return sent


# -- the requests list ------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*FILERS, Role.ACCOUNT_MANAGER])
def test_every_role_of_the_tenant_lists_its_requests(client, alpha, bravo, msp_admin, vpn, role):
    filed = file(alpha, vpn)
    client.force_login(person(alpha, role, msp_admin))
    response = client.get(url("access_request_list", alpha))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="request-{filed.pk}"' in page and "Alpha VPN" in page
    assert bravo.tenant.name not in page


def test_the_list_filters_by_status_in_place(client, alpha, vpn, wiki):
    pending = file(alpha, vpn)
    done = granted(file(alpha, wiki, days=None))
    client.force_login(alpha.client_admin)
    response = client.get(url("access_request_list", alpha), {"status": "granted"}, **HX)
    page = response.content.decode()
    assert "<html" not in page  # the results partial only
    assert f'id="request-{done.pk}"' in page and f'id="request-{pending.pk}"' not in page
    page = client.get(url("access_request_list", alpha), {"status": "denied"}).content.decode()
    assert "No requests match." in page


def test_another_tenants_people_get_404(client, alpha, bravo, vpn):
    filed = file(alpha, vpn)
    for role in (Role.TECHNICIAN, Role.CLIENT_ADMIN):
        client.force_login(bravo.people[role])
        assert client.get(url("access_request_list", alpha)).status_code == 404
        assert client.get(url("access_request_new", alpha)).status_code == 404
        detail = url("access_request_detail", alpha, request_id=filed.pk)
        assert client.get(detail).status_code == 404


# -- filing a request -------------------------------------------------------------------------


@pytest.mark.parametrize("role", FILERS)
def test_technicians_and_client_admins_file_a_request(
    client, alpha, msp_admin, vpn, role, co_admin
):
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save()
    filer = person(alpha, role, msp_admin)
    client.force_login(filer)
    ends = local("America/New_York", 14, hour=17)
    response = client.post(
        url("access_request_new", alpha),
        {
            "identity": alpha.identity.pk,
            "resource": vpn.pk,
            "reason": "Covering the on-call rota",
            "ends_at": typed(ends),
        },
    )
    filed = AccessRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("access_request_detail", alpha, request_id=filed.pk)
    assert filed.status == AccessRequest.Status.PENDING
    assert filed.requested_by == filer and filed.reason == "Covering the on-call rota"
    assert filed.ends_at == ends.replace(tzinfo=ZoneInfo("America/New_York"))
    event = AuditEvent.objects.get(action="access.request")
    assert event.tenant_id == alpha.tenant.pk and event.actor_user_id == filer.pk


def test_account_managers_may_not_file(client, alpha, vpn):
    client.force_login(alpha.account_manager)
    assert client.get(url("access_request_new", alpha)).status_code == 403
    data = {"identity": alpha.identity.pk, "resource": vpn.pk, "reason": "x"}
    assert client.post(url("access_request_new", alpha), data).status_code == 403
    assert not AccessRequest.objects.exists()


def test_the_form_offers_the_tenants_active_people_and_open_resources(client, alpha, bravo, vpn):
    requestable(bravo, "Bravo VPN")
    closed = requestable(alpha, "Old share", is_active=False)
    leaver, _ = make_joiner(alpha, "Lee", "Left")
    Identity.objects.filter(pk=leaver.pk).update(status=Identity.Status.LEFT)
    client.force_login(alpha.technician)
    response = client.get(url("access_request_new", alpha), {"identity": alpha.identity.pk})
    form = response.context["form"]
    assert list(form.fields["resource"].queryset) == [vpn]
    assert list(form.fields["identity"].queryset) == [alpha.identity]
    assert form["identity"].value() == str(alpha.identity.pk)
    page = response.content.decode()
    assert "time-bound, at most 30 days" in page
    assert "Bravo VPN" not in page and closed.name not in page and "Lee Left" not in page


def post_request(client, world, **overrides):
    data = {
        "identity": world.identity.pk,
        "resource": "",
        "reason": "Needs it",
        "ends_at": "",
    } | overrides
    return client.post(url("access_request_new", world), data)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": "  "}, "Give a reason."),
        ({"ends_at": ""}, "Alpha VPN is time-bound: give an end date (at most 30 days ahead)."),
        ({"ends_at": "LATER"}, "at most 30 days"),
        ({"ends_at": "2001-01-01T09:00"}, "That time has passed"),
        ({"ends_at": "next tuesday"}, "Enter a valid date/time."),
    ],
)
def test_bad_input_is_named_and_files_nothing(client, alpha, vpn, overrides, message):
    if overrides.get("ends_at") == "LATER":
        overrides["ends_at"] = typed(local(alpha.tenant.time_zone, 45))
    client.force_login(alpha.technician)
    response = post_request(client, alpha, resource=vpn.pk, **overrides)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AccessRequest.objects.exists()


def test_another_tenants_or_a_closed_resource_cannot_be_requested(client, alpha, bravo, vpn):
    theirs = requestable(bravo, "Bravo VPN")
    closed = requestable(alpha, "Old share", is_active=False)
    client.force_login(alpha.client_admin)
    for resource in (theirs, closed):
        response = post_request(client, alpha, resource=resource.pk)
        assert response.status_code == 400
        assert "Choose something this tenant lets people request." in response.content.decode()
    response = post_request(client, alpha, resource=vpn.pk, identity=bravo.identity.pk)
    assert "Choose an active person of this tenant." in response.content.decode()
    assert not AccessRequest.objects.exists()
    # and the service refuses them too, whoever calls it
    for resource in (theirs, closed):
        with pytest.raises(ar.AccessRequestError):
            file(alpha, resource)


def test_a_second_open_request_is_refused_plainly(client, alpha, wiki):
    file(alpha, wiki, days=None)
    client.force_login(alpha.technician)
    response = post_request(client, alpha, resource=wiki.pk)
    assert response.status_code == 400
    assert "already has an open request or grant for Alpha Wiki" in response.content.decode()
    assert AccessRequest.objects.count() == 1


def test_a_second_filing_between_the_check_and_the_insert_is_refused(alpha, wiki, monkeypatch):
    """Two clicks or two API calls at once each found no open request before either was
    written, and both were filed (three of eight parallel API calls on the demo): the person
    then had two pending requests, and two grants once both were approved."""
    check = ar._check_someone_decides

    def the_other_click_lands_now(identity, resource, actor):
        monkeypatch.setattr(ar, "_check_someone_decides", check)
        file(alpha, wiki, days=None)
        check(identity, resource, actor)

    monkeypatch.setattr(ar, "_check_someone_decides", the_other_click_lands_now)
    with pytest.raises(ar.AccessRequestError, match="already has an open request or grant"):
        file(alpha, wiki, days=None)
    assert AccessRequest.objects.filter(identity=alpha.identity, resource=wiki).count() == 1


def test_the_identity_page_lists_the_persons_requests(client, alpha, vpn, wiki):
    filed = file(alpha, vpn)
    client.force_login(alpha.account_manager)
    page = client.get(
        reverse(
            "identity_detail",
            kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk},
        )
    ).content.decode()
    assert 'id="access-requests"' in page
    assert url("access_request_detail", alpha, request_id=filed.pk) in page
    assert "Request access" not in page  # account managers read only
    client.force_login(alpha.technician)
    page = client.get(
        reverse(
            "identity_detail",
            kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk},
        )
    ).content.decode()
    assert f"{url('access_request_new', alpha)}?identity={alpha.identity.pk}" in page


# -- cancel, revoke, extend -------------------------------------------------------------------


def test_the_requester_cancels_their_pending_request(client, alpha, vpn, co_admin):
    filed = file(alpha, vpn, by=alpha.client_admin)
    client.force_login(alpha.client_admin)
    back = url("access_request_list", alpha)
    response = client.post(url("access_request_cancel", alpha, request_id=filed.pk), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.CANCELLED
    assert AuditEvent.objects.filter(action="access.cancelled").count() == 1


@pytest.mark.parametrize("role", OPERATORS)
def test_operators_cancel_anyones_pending_request(client, alpha, msp_admin, vpn, role, co_admin):
    filed = file(alpha, vpn, by=alpha.client_admin)
    client.force_login(person(alpha, role, msp_admin))
    client.post(url("access_request_cancel", alpha, request_id=filed.pk))
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.CANCELLED


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_others_may_not_cancel(client, alpha, vpn, role):
    filed = file(alpha, vpn)  # by the technician
    client.force_login(alpha.people[role])
    response = client.post(url("access_request_cancel", alpha, request_id=filed.pk))
    assert response.status_code == 403
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.PENDING


def test_a_decided_request_cannot_be_cancelled(client, alpha, vpn):
    filed = granted(file(alpha, vpn))
    client.force_login(alpha.technician)
    response = client.post(url("access_request_cancel", alpha, request_id=filed.pk), follow=True)
    assert "This request has been decided already." in response.content.decode()
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.GRANTED


@pytest.mark.parametrize("role", OPERATORS)
def test_operators_revoke_a_grant_with_a_removal_job(
    client, alpha, msp_admin, vpn, role, no_enqueue
):
    filed = granted(file(alpha, vpn))
    client.force_login(person(alpha, role, msp_admin))
    response = client.post(url("access_request_revoke", alpha, request_id=filed.pk))
    assert response.status_code == 302
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.ENDING
    assert filed.end_job.kind == Job.Kind.REVOKE
    assert filed.end_job.options == {"access_request": filed.pk, "final": "revoked"}


def test_an_account_manager_does_not_revoke(client, alpha, vpn):
    filed = granted(file(alpha, vpn))
    client.force_login(alpha.account_manager)
    assert client.post(url("access_request_revoke", alpha, request_id=filed.pk)).status_code == 403
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.GRANTED and filed.end_job is None


def test_a_pending_request_cannot_be_revoked(client, alpha, vpn):
    filed = file(alpha, vpn)
    client.force_login(alpha.technician)
    response = client.post(url("access_request_revoke", alpha, request_id=filed.pk), follow=True)
    assert "Only approved or granted access can be ended." in response.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.REVOKE).exists()


def approved(world, resource, by=None) -> AccessRequest:
    """Approved, its grant job queued (as it is while the job waits or runs)."""
    filed = file(world, resource)
    ar.approve(filed, actor=by or world.client_admin, reason="Looks right")
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.APPROVED
    return filed


@pytest.mark.parametrize("role", [*OPERATORS, Role.CLIENT_ADMIN])
def test_an_approved_request_is_revoked_at_once(client, alpha, msp_admin, vpn, role, no_enqueue):
    """Approved by mistake, or withdrawn a second later: the client admin who approved it,
    or the MSP, revokes it while its grant job is still on its way."""
    filed = approved(alpha, vpn)
    client.force_login(person(alpha, role, msp_admin))
    revoke = url("access_request_revoke", alpha, request_id=filed.pk)
    assert revoke in client.get(url("access_request_detail", alpha, request_id=filed.pk)).text
    assert client.post(revoke).status_code == 302
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.ENDING
    assert filed.end_job.kind == Job.Kind.REVOKE and filed.end_job.status == Job.Status.QUEUED
    [ended] = AuditEvent.objects.filter(action="access.end")
    assert ended.before == {"status": "approved"} and ended.after["ends_as"] == "revoked"
    assert client.post(revoke).status_code == 302  # a second click: nothing more
    assert AuditEvent.objects.filter(action="access.end").count() == 1
    assert Job.objects.filter(kind=Job.Kind.REVOKE).count() == 1


def test_the_panel_that_says_approved_offers_the_revoke(client, alpha, vpn, no_enqueue):
    """The client home's inline decision: the panel swapped in after the approval has the
    button, so a mistake is undone where it was made."""
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    decide = url("access_request_decide", alpha, request_id=filed.pk)
    response = client.post(decide, {"decision": "approve", "reason": "ok", "inline": "1"}, **HX)
    assert response.status_code == 200
    assert url("access_request_revoke", alpha, request_id=filed.pk) in response.text


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CLIENT_ADMIN])
def test_the_list_offers_revoke_on_an_approved_request(client, alpha, vpn, role, no_enqueue):
    filed = approved(alpha, vpn)
    pending = file(alpha, requestable(alpha, "Alpha Printers"))
    client.force_login(alpha.people[role])
    page = client.get(url("access_request_list", alpha)).text
    assert url("access_request_revoke", alpha, request_id=filed.pk) in page
    assert url("access_request_revoke", alpha, request_id=pending.pk) not in page


def test_who_may_not_revoke_an_approval(client, alpha, bravo, vpn, co_admin, no_enqueue):
    """An account manager changes nothing; a client admin who is not an approver of the
    resource (named approvers: another admin) does not revoke it; another tenant's 404s."""
    payroll = RequestableResource(
        tenant=alpha.tenant,
        connection=alpha.connection,
        kind="group",
        remote_id="group-payroll",
        name="Alpha Payroll",
        approvers=RequestableResource.Approvers.NAMED,
    )
    payroll = ar.save_requestable(payroll, named=[co_admin], actor="system")
    for filed, outsider in (
        (approved(alpha, vpn), alpha.account_manager),
        (
            approved(alpha, payroll, by=co_admin),
            alpha.client_admin,
        ),
    ):
        client.force_login(outsider)
        revoke = url("access_request_revoke", alpha, request_id=filed.pk)
        assert (
            revoke not in client.get(url("access_request_detail", alpha, request_id=filed.pk)).text
        )
        assert client.post(revoke).status_code == 403
        client.force_login(bravo.client_admin)
        assert client.post(revoke).status_code == 404
        filed.refresh_from_db()
        assert filed.status == AccessRequest.Status.APPROVED and filed.end_job is None


@pytest.mark.parametrize("role", FILERS)
def test_extending_a_grant_is_a_new_request(client, alpha, msp_admin, vpn, role, co_admin):
    filed = granted(file(alpha, vpn, days=5))
    client.force_login(person(alpha, role, msp_admin))
    extend = url("access_request_extend", alpha, request_id=filed.pk)
    assert client.get(extend).status_code == 200
    ends = local(alpha.tenant.time_zone, 20)
    response = client.post(extend, {"ends_at": typed(ends), "reason": "Project runs longer"})
    extension = AccessRequest.objects.exclude(pk=filed.pk).get()
    assert response["Location"] == url("access_request_detail", alpha, request_id=extension.pk)
    assert extension.extends == filed and extension.status == AccessRequest.Status.PENDING
    assert extension.ends_at == ends.replace(tzinfo=ZoneInfo(alpha.tenant.time_zone))
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.GRANTED  # until the extension is granted


def test_extension_bad_input_and_roles(client, alpha, vpn):
    filed = granted(file(alpha, vpn, days=5))
    extend = url("access_request_extend", alpha, request_id=filed.pk)
    client.force_login(alpha.account_manager)
    assert client.get(extend).status_code == 403
    client.force_login(alpha.technician)
    sooner = typed(local(alpha.tenant.time_zone, 2))
    response = client.post(extend, {"ends_at": sooner, "reason": "x"})
    assert "An extension must end later than the current grant." in response.content.decode()
    response = client.post(
        extend, {"ends_at": typed(local(alpha.tenant.time_zone, 60)), "reason": "x"}
    )
    assert "at most 30 days" in response.content.decode()
    response = client.post(extend, {"ends_at": typed(local(alpha.tenant.time_zone, 20))})
    assert response.status_code == 400 and "Give a reason." in response.content.decode()
    assert AccessRequest.objects.count() == 1
    pending = file(alpha, requestable(alpha, "Alpha Wiki", kind="app"), days=None)
    response = client.get(url("access_request_extend", alpha, request_id=pending.pk), follow=True)
    assert "Only granted access can be extended." in response.content.decode()


def test_access_without_an_end_has_nothing_to_extend(client, alpha):
    """An open-ended grant is not offered "Extend…": an "extension" would give it an end,
    shortening the access it claims to lengthen."""
    wiki = requestable(alpha, "Alpha Wiki", kind="app")
    filed = granted(file(alpha, wiki, days=None))
    client.force_login(alpha.technician)
    extend = url("access_request_extend", alpha, request_id=filed.pk)
    assert extend not in client.get(url("access_request_list", alpha)).content.decode()
    response = client.get(extend, follow=True)
    assert "has no end date: there is nothing to extend" in response.content.decode()
    ends = typed(local(alpha.tenant.time_zone, 20))
    client.post(extend, {"ends_at": ends, "reason": "x"})
    assert AccessRequest.objects.count() == 1


# -- the decision (the lead's view, driven as a client admin would) ---------------------------


def decide(client, world, access_request, decision: str, reason: str = "", **extra):
    return client.post(
        url("access_request_decide", world, request_id=access_request.pk),
        {"decision": decision, "reason": reason},
        **extra,
    )


def test_a_client_admin_denies_with_a_reason(client, alpha, vpn):
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    response = decide(client, alpha, filed, "deny", "Not for contractors", **HX)
    assert response.status_code == 200
    assert 'data-status="denied"' in response.content.decode()
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.DENIED
    assert filed.decided_by == alpha.client_admin
    assert filed.decision_reason == "Not for contractors"
    assert not Job.objects.filter(kind=Job.Kind.GRANT).exists()
    # Said in place; no flash message waits for the next full page.
    page = client.get(url("access_request_detail", alpha, request_id=filed.pk))
    assert "Request denied." not in page.content.decode()


def test_a_decision_needs_a_reason(client, alpha, vpn):
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    for decision in ("approve", "deny"):
        response = decide(client, alpha, filed, decision, "   ", **HX)
        assert response.status_code == 400 and "Give a reason." in response.content.decode()
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.PENDING


def test_an_approval_starts_one_grant_job(
    client, alpha, vpn, no_enqueue, django_capture_on_commit_callbacks
):
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    with django_capture_on_commit_callbacks(execute=True):
        decide(client, alpha, filed, "approve", "Fine for the project")
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.APPROVED
    assert filed.grant_job.kind == Job.Kind.GRANT and no_enqueue == [filed.grant_job.pk]


def test_the_requester_cannot_approve_their_own_request(client, alpha, vpn, co_admin):
    filed = file(alpha, vpn, by=alpha.client_admin)  # co_admin: so there is an approver
    client.force_login(alpha.client_admin)
    response = decide(client, alpha, filed, "approve", "I need it", **HX)
    assert response.status_code == 403
    assert "You asked for this access, so someone else approves it." in response.content.decode()
    with pytest.raises(ar.AccessRequestError, match="someone else must approve it"):
        ar.approve(filed, actor=alpha.client_admin, reason="I need it")
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.PENDING


def test_a_client_admin_of_another_tenant_gets_404(client, alpha, bravo, vpn):
    filed = file(alpha, vpn)
    client.force_login(bravo.client_admin)
    assert decide(client, alpha, filed, "approve", "Sure").status_code == 404
    # nor through their own tenant's URL
    response = decide(client, bravo, filed, "approve", "Sure")
    assert response.status_code == 404
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.PENDING


def test_a_request_for_a_resource_no_longer_requestable_cannot_be_approved(alpha, vpn, no_enqueue):
    filed = file(alpha, vpn)
    vpn.is_active = False
    ar.save_requestable(vpn, actor="system")
    with pytest.raises(ar.AccessRequestError):
        ar.approve(filed, actor=alpha.client_admin, reason="ok")


# -- stale requests ---------------------------------------------------------------------------


def test_pending_requests_expire_after_the_tenants_days(alpha, vpn, wiki):
    alpha.tenant.request_expiry_days = 3
    alpha.tenant.save()
    old, young = file(alpha, vpn), file(alpha, wiki, days=None)
    AccessRequest.objects.filter(pk=young.pk).update(created_at=old.created_at + timedelta(days=2))
    assert ar.expire_stale_requests(now=old.created_at + timedelta(days=2, hours=23)) == 0
    assert ar.expire_stale_requests(now=old.created_at + timedelta(days=3, minutes=1)) == 1
    old.refresh_from_db()
    young.refresh_from_db()
    assert old.status == AccessRequest.Status.EXPIRED
    assert young.status == AccessRequest.Status.PENDING
    assert AuditEvent.objects.filter(action="access.expired", actor_kind="system").count() == 1


def test_a_request_only_its_requester_could_approve_is_refused(client, alpha, vpn):
    """A tenant's only client admin files a request: nobody approves their own, so it would
    wait for no one. Refused with what to do; a second client admin can decide it."""
    client.force_login(alpha.client_admin)
    new = url("access_request_new", alpha)
    fields = {"identity": alpha.identity.pk, "resource": vpn.pk, "reason": "On call"}
    fields["ends_at"] = typed(local(alpha.tenant.time_zone, 5))
    response = client.post(new, fields)
    assert response.status_code == 400 and not AccessRequest.objects.exists()
    assert "You are the only approver of Alpha VPN" in response.content.decode()
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])
    assert client.post(new, fields).status_code == 302
    assert AccessRequest.objects.get().status == AccessRequest.Status.PENDING


def test_the_form_says_before_it_is_filled_what_its_only_approver_cannot_file(client, alpha, vpn):
    """The demo's client admins (one per tenant) filled the whole form to learn, on
    submitting, that they approve everything themselves: the form says so up front, and
    stops saying it once someone else may decide."""
    client.force_login(alpha.client_admin)
    body = client.get(url("access_request_new", alpha)).content.decode()
    notice = body[body.index('id="only-approver"') :].split("</div>")[0]
    assert "You are the only approver of <strong>Alpha VPN</strong>" in notice
    assert "a request for it would wait for no one" in notice
    client.force_login(alpha.technician)
    assert 'id="only-approver"' not in client.get(url("access_request_new", alpha)).content.decode()
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])
    client.force_login(alpha.client_admin)
    assert 'id="only-approver"' not in client.get(url("access_request_new", alpha)).content.decode()
