"""A tenant's attribute mappings: MSP admins edit, technicians and account managers read."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.models import Role
from portal.next_page import login_required
from provisioning.attribute_mappings import preview
from provisioning.attribute_mappings.forms import ExpressionForm, PersonSearchForm, PreviewForm
from provisioning.models import Identity
from tenants import access
from tenants.mappings import Target, overrides_for, rows_for, targets
from tenants.mappings.services import reset_mapping, save_mapping
from tenants.models import AttributeMapping

EDITORS = (Role.MSP_ADMIN,)
LIST = "provisioning/mappings.html"
EDIT = "provisioning/mapping_edit.html"
PREVIEW = "provisioning/mapping_preview.html"


@login_required
@require_GET
def mapping_list(request, tenant: str):
    tenant_obj = access.get_tenant_for(request.user, tenant, access.STAFF_ROLES)
    saved: dict[str, dict[str, str]] = {}
    for row in AttributeMapping.objects.filter(tenant=tenant_obj):
        saved.setdefault(row.target, {})[row.attribute] = row.expression
    sections = [(t, rows_for(t.key, saved.get(t.key, {}))) for t in targets(tenant_obj)]
    context = {"tenant": tenant_obj, "sections": sections, "can_edit": _can_edit(request.user)}
    return render(request, LIST, context)


@login_required
@require_http_methods(["GET", "POST"])
def mapping_edit(request, tenant: str, target: str, attribute: str):
    tenant_obj = access.get_tenant_for(request.user, tenant, EDITORS)
    found = _target_of(tenant_obj, target, attribute)
    overrides = overrides_for(tenant_obj, target)
    current = overrides.get(attribute) or found.kind.defaults.get(attribute, "")
    form = ExpressionForm(request.POST or None, target=target, initial={"expression": current})
    if request.method == "POST" and form.is_valid():
        save_mapping(
            tenant_obj,
            target,
            attribute,
            form.cleaned_data["expression"],
            actor=request.user,
            request=request,
        )
        messages.success(request, f"Saved the mapping of {found.label}'s {attribute}.")
        return redirect(f"{_list_url(tenant_obj)}#target-{found.key}")
    context = {
        "tenant": tenant_obj,
        "target": found,
        "attribute": attribute,
        "label": found.kind.attributes[attribute],
        "default": found.kind.defaults.get(attribute, ""),
        "overridden": attribute in overrides,
        "form": form,
        "caret": _caret(form),
        "sources": found.kind.sources,
        "people": preview.people(tenant_obj),
    }
    return render(request, EDIT, context, status=400 if form.errors else 200)


@login_required
@require_POST
def mapping_reset(request, tenant: str, target: str, attribute: str):
    tenant_obj = access.get_tenant_for(request.user, tenant, EDITORS)
    found = _target_of(tenant_obj, target, attribute)
    if reset_mapping(tenant_obj, target, attribute, actor=request.user, request=request):
        messages.success(request, f"{found.label}'s {attribute} is back to its default.")
    return redirect(f"{_list_url(tenant_obj)}#target-{found.key}")


@login_required
@require_GET
def mapping_preview(request, tenant: str, target: str):
    """Each attribute's value for a chosen person, with one attribute's edited expression
    standing in for the saved one when given (nothing is saved)."""
    tenant_obj = access.get_tenant_for(request.user, tenant, access.STAFF_ROLES)
    found = _target_of(tenant_obj, target)
    search = PersonSearchForm(request.GET)
    wanted = search.cleaned_data if search.is_valid() else {}
    offered = preview.people(tenant_obj, wanted.get("q") or "")
    chosen = [p for p in _chosen(tenant_obj, wanted.get("person")) if p not in offered]
    form = PreviewForm(request.GET or None, people=offered + chosen)
    rows, person = None, None
    if form.is_bound and form.is_valid() and form.cleaned_data["person"]:
        person = Identity.objects.filter(tenant=tenant_obj, pk=form.cleaned_data["person"]).first()
    if person is not None:
        edited = None
        attribute, text = form.cleaned_data["attribute"], form.cleaned_data["expression"].strip()
        if attribute in found.kind.attributes and text:
            edited = (attribute, text)
        source = preview.source_of(person, found.key)
        rows = rows_for(found.key, overrides_for(tenant_obj, found.key), source, edited)
    context = {"tenant": tenant_obj, "target": found, "form": form, "rows": rows, "person": person}
    return render(request, f"{PREVIEW}#preview" if request.htmx else PREVIEW, context)


def _can_edit(user) -> bool:
    return access.has_role(user, EDITORS)


def _target_of(tenant, key: str, attribute: str | None = None) -> Target:
    found = next((t for t in targets(tenant) if t.key == key), None)
    if found is None or (attribute is not None and attribute not in found.kind.attributes):
        raise Http404("No such target attribute.")
    return found


def _chosen(tenant, person_id: int | None) -> list[Identity]:
    if person_id is None:
        return []
    return list(Identity.objects.filter(tenant=tenant, pk=person_id))


def _caret(form: ExpressionForm) -> dict | None:
    """The line of the expression where its error is, and spaces up to the caret under it."""
    problem = form.problem
    if problem is None:
        return None
    text = form.data.get("expression", "").strip()
    before = text[: problem.position - 1]
    start = before.rfind("\n") + 1
    end = text.find("\n", start)
    line = text[start:] if end == -1 else text[start:end]
    return {"line": line, "pad": " " * (problem.position - 1 - start), "error": problem}


def _list_url(tenant) -> str:
    return reverse("mapping_list", kwargs={"tenant": tenant.slug})
