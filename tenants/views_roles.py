"""Role templates: per tenant (technicians and MSP admins) and MSP-wide (MSP admins)."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.models import Role
from portal.next_page import login_required
from tenants import access, naming, services
from tenants.forms import RolePrefillForm, RoleTemplateForm, UsernamePreviewForm, no_markup
from tenants.models import RoleTemplate

EDITORS = (Role.MSP_ADMIN, Role.TECHNICIAN)
SAMPLE_FIRST, SAMPLE_LAST = "José", "Müller-Lüdenscheidt"


class CopyForm(forms.Form):
    name = forms.CharField(max_length=80, validators=[no_markup])

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if RoleTemplate.objects.filter(tenant=self.tenant, name__iexact=name).exists():
            raise forms.ValidationError("A role template with this name exists already.")
        return name


@login_required
@require_http_methods(["GET", "POST"])
def role_create(request, tenant: str):
    tenant_obj = access.get_tenant_for(request.user, tenant, EDITORS)
    initial = RolePrefillForm(request.GET).prefill() if request.GET else {}
    # Made from the adopt preview's proposal: saved, back there to adopt with it.
    back = "people_adopt" if initial.pop("back", "") == "adopt" else None
    return _role_form(request, RoleTemplate(tenant=tenant_obj), initial, back)


@login_required
@require_http_methods(["GET", "POST"])
def role_edit(request, tenant: str, template_id: int):
    return _role_form(
        request, access.get_role_template_for(request.user, tenant, template_id, EDITORS)
    )


@login_required
@require_http_methods(["GET", "POST"])
def msp_role_create(request):
    access.require_role(request.user, (Role.MSP_ADMIN,))
    return _role_form(request, RoleTemplate(tenant=None))


@login_required
@require_http_methods(["GET", "POST"])
def msp_role_edit(request, msp_template_id: int):
    return _role_form(request, access.get_msp_template_for(request.user, msp_template_id))


def _role_form(
    request, template: RoleTemplate, initial: dict | None = None, back: str | None = None
):
    read_now = None if template.pk is None else services.fields_of(template)
    form = RoleTemplateForm(
        request.POST or None,
        instance=template,
        tenant=template.tenant,
        initial=initial,
        as_read=None if template.pk is None else services.form_fields_of(template),
    )
    edited_since = None
    if request.method == "POST" and form.is_valid():
        page_read = form.cleaned_data.get("as_read")
        try:
            held = services.save_role_template(
                form.save(commit=False),
                actor=request.user,
                request=request,
                as_read=page_read or read_now,
            )
        except RoleTemplate.DoesNotExist:  # deleted since the page read it: not made again
            raise Http404("No such role template.") from None
        except services.EditedSinceRead as clash:
            # Saving again puts the editor's value in place of the other's: a choice made
            # having seen it. The fields neither clashed on still keep others' edits.
            edited_since = clash
            form.read_again({**(page_read or {}), **clash.now})
            template.refresh_from_db()
        else:
            return _saved(request, template, held, back)
    return render(
        request,
        "tenants/role_form.html",
        {"form": form, "template": template, "tenant": template.tenant}
        | {"edited_since": edited_since}
        | _preview(template.username_rule, template.effective_domain),
    )


def _saved(request, template: RoleTemplate, held: str, back: str | None):
    if held:
        messages.warning(request, f"Not saved yet: {held} It waits on the tenant's schedule.")
        return _back_to_list(template)
    messages.success(request, f"Saved the role template “{template.name}”.")
    if back:
        return redirect(back, tenant=template.tenant.slug)
    return _back_to_list(template)


def _back_to_list(template: RoleTemplate):
    if template.tenant:
        return redirect("tenant_detail", tenant=template.tenant.slug)
    return redirect("msp_role_list")


@login_required
@require_http_methods(["GET", "POST"])
def role_clone(request, tenant: str, template_id: int):
    source = access.get_role_template_for(request.user, tenant, template_id, EDITORS)
    return _copy(request, source, source.tenant, f"{source.name} (copy)")


@login_required
@require_http_methods(["GET", "POST"])
def role_copy_from_msp(request, tenant: str, msp_template_id: int):
    tenant_obj = access.get_tenant_for(request.user, tenant, EDITORS)
    source = get_object_or_404(RoleTemplate, tenant__isnull=True, pk=msp_template_id)
    return _copy(request, source, tenant_obj, source.name)


def _copy(request, source: RoleTemplate, tenant, suggested_name: str):
    form = CopyForm(request.POST or None, tenant=tenant, initial={"name": suggested_name})
    if request.method == "POST" and form.is_valid():
        copy = services.copy_role_template(
            source,
            tenant=tenant,
            name=form.cleaned_data["name"],
            actor=request.user,
            request=request,
        )
        messages.success(request, f"Created “{copy.name}” from “{source.name}”. Adapt it below.")
        return redirect("role_edit", tenant=tenant.slug, template_id=copy.pk)
    return render(
        request, "tenants/role_copy.html", {"form": form, "source": source, "tenant": tenant}
    )


@login_required
@require_http_methods(["GET", "POST"])
def role_delete(request, tenant: str, template_id: int):
    template = access.get_role_template_for(request.user, tenant, template_id, EDITORS)
    return _delete(request, template)


@login_required
@require_http_methods(["GET", "POST"])
def msp_role_delete(request, msp_template_id: int):
    return _delete(request, access.get_msp_template_for(request.user, msp_template_id))


def _delete(request, template: RoleTemplate):
    if request.method == "POST":
        held = services.delete_role_template(template, actor=request.user, request=request)
        if held:
            messages.warning(request, f"Not deleted yet: {held} It waits on the tenant's schedule.")
            return _back_to_list(template)
        messages.success(request, f"Deleted the role template “{template.name}”.")
        return _back_to_list(template)
    context = {
        "template": template,
        "tenant": template.tenant,
        "holders": services.holders_of(template),
    }
    return render(request, "tenants/role_delete.html", context)


@login_required
@require_GET
def msp_role_list(request):
    access.require_role(request.user, EDITORS)
    templates = RoleTemplate.objects.filter(tenant__isnull=True)
    copy_targets = access.tenants_for(request.user).filter(is_active=True)
    return render(
        request,
        "tenants/msp_role_list.html",
        {"templates": templates, "copy_targets": copy_targets},
    )


@login_required
@require_GET
def username_preview(request):
    """htmx: the username a rule gives for a sample name (no tenant data involved)."""
    access.require_role(request.user, EDITORS)
    form = UsernamePreviewForm(request.GET)
    if not form.is_valid():
        context = {"preview": None, "error": "Enter a rule such as {first}.{last}@{domain}."}
    else:
        context = _preview(form.cleaned_data["username_rule"], form.cleaned_data["domain"])
    return render(request, "tenants/role_form.html#username-preview", context)


def _preview(rule: str, domain: str) -> dict:
    """The username a rule gives for a sample name with accents and a hyphen."""
    try:
        naming.validate_rule(rule)
        username = naming.render(rule, SAMPLE_FIRST, SAMPLE_LAST, domain or "example.com")
    except naming.NamingRuleError as exc:
        return {"preview": None, "error": str(exc)}
    return {"preview": username, "error": None}


@login_required
@require_POST
def role_copy_to_tenant(request, msp_template_id: int):
    """From the MSP list: pick a tenant, then the copy form for that tenant."""
    access.require_role(request.user, EDITORS)
    get_object_or_404(RoleTemplate, tenant__isnull=True, pk=msp_template_id)
    tenant = access.get_tenant_for(request.user, request.POST.get("tenant", ""), EDITORS)
    return redirect("role_copy_from_msp", tenant=tenant.slug, msp_template_id=msp_template_id)
