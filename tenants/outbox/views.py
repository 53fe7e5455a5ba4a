"""The outbox: the e-mails the portal sent, for MSP admins (when the outbox backend delivers)."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required
from tenants import access
from tenants.outbox.models import SentEmail

MSP_ADMIN = (Role.MSP_ADMIN,)
PER_PAGE = 50


@login_required
@require_GET
def outbox_list(request):
    access.require_role(request.user, MSP_ADMIN)
    form = PageForm(request.GET)
    page = Paginator(SentEmail.objects.all(), PER_PAGE).get_page(form.number())
    keeping = settings.EMAIL_BACKEND == "tenants.outbox.backend.OutboxBackend"
    return render(
        request, "outbox/list.html", {"page": page, "keeping": keeping, "page_form": form}
    )


@login_required
@require_GET
def outbox_detail(request, email_id: int):
    access.require_role(request.user, MSP_ADMIN)
    email = get_object_or_404(SentEmail, pk=email_id)
    return render(request, "outbox/detail.html", {"email": email})
