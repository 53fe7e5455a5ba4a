"""The public REST API at /api/v1/: one NinjaAPI, its routers, its errors as problems."""

import copy

from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from portal.head import answers_head
from provisioning.api import links, problems
from provisioning.api.auth import TokenAuth
from provisioning.api.endpoints_access import router as access_router
from provisioning.api.endpoints_jobs import router as jobs_router
from provisioning.api.endpoints_lifecycle import router as lifecycle_router
from provisioning.api.endpoints_people import router as people_router
from provisioning.api.endpoints_tenants import router as tenants_router

DESCRIPTION = """\
Drive the portal from a PSA or RMM: read tenants, people and jobs; onboard, change,
offboard and restore people; follow the jobs that do it.

Authenticate with an API token made on the portal's *API tokens* page:
`Authorization: Bearer mpp_…`. A token sees what its person sees, or less. Errors are
RFC 9457 problem details. Lists are cursor pages. Every POST takes an `Idempotency-Key`.
"""


class ReferencePage(Swagger):
    """Swagger UI in a page of our own: a language, a main landmark and a heading for
    screen readers (ninja's page has none)."""

    template = "api/swagger.html"


def _reads_only(view):
    """ninja's document and reference page answered every method (a PUT too) with themselves;
    exempt from CSRF as the API's routes are, so another method meets the 405 of each."""
    return csrf_exempt(require_safe(view))


api = NinjaAPI(
    title="MSP provisioning portal API",
    version="1",
    description=DESCRIPTION,
    auth=TokenAuth(),
    urls_namespace="api_v1",
    docs_url="/docs",
    # Deep links put a link inside each operation's button (WCAG 4.1.2, nested controls).
    docs=ReferencePage(settings={"deepLinking": False}),
    docs_decorator=_reads_only,
)
problems.install(api)
links.install(api)


def _built_once(api: NinjaAPI) -> None:
    """The OpenAPI document is the same for the process's life, and building it costs some
    100 ms of CPU (measured, session 28) while anyone may ask for it, without a token: it is
    built once per path prefix, and each asker gets a copy (a deep copy, some 7 ms)."""
    build = api.get_openapi_schema
    built: dict[str, dict] = {}

    def schema_once(*, path_prefix: str | None = None, path_params: dict | None = None):
        if path_prefix is None:
            path_prefix = api.get_root_path(path_params or {})
        if path_prefix not in built:
            built[path_prefix] = build(path_prefix=path_prefix)
        return copy.deepcopy(built[path_prefix])

    api.get_openapi_schema = schema_once


_built_once(api)


# ninja takes HEAD only where a route declares it: every route answers it as GET.
problems.wrap_views(api, answers_head)
api.add_router("/tenants", tenants_router, tags=["Tenants"])
api.add_router("", people_router)
api.add_router("", jobs_router)
api.add_router("", lifecycle_router)
api.add_router("", access_router)
