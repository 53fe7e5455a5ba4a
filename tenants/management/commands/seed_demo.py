"""Seed the demo tenants, role templates, connections to the sandbox, and people. Idempotent."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants import demo, services
from tenants.models import DirectoryConnection, RoleTemplate, Tenant
from tenants.staff import save_person

User = get_user_model()
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = "Create the demo tenants (Contoso, Fabrikam, Northwind) and demo logins."

    def handle(self, *args, **options):
        tenants = {spec["slug"]: self.tenant(spec) for spec in demo.TENANTS}
        for slug, rows in demo.ROLE_TEMPLATES.items():
            for row in rows:
                self.role_template(tenants[slug], *row)
        for row in demo.MSP_TEMPLATES:
            self.role_template(None, *row)
        self.connections(tenants)
        self.scim_templates(tenants)
        for row in demo.PEOPLE:
            self.person(tenants, *row)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Logins (password {demo.DEMO_PASSWORD}):")
        )
        for username, _first, _last, role, all_tenants, slugs in demo.PEOPLE:
            scope = "all tenants" if role == "msp_admin" or all_tenants else ", ".join(slugs)
            self.stdout.write(f"  {username:<14} {role.replace('_', ' '):<16} {scope}")

    def tenant(self, spec: dict) -> Tenant:
        existing = Tenant.objects.filter(slug=spec["slug"]).first()
        return existing or services.save_tenant(Tenant(**spec), actor="system")

    def role_template(self, tenant, name, groups, licenses, apps, department) -> None:
        if RoleTemplate.objects.filter(tenant=tenant, name=name).exists():
            return
        template = RoleTemplate(
            tenant=tenant,
            name=name,
            description=f"{name} joiners" if tenant else f"MSP starting point for {name.lower()}",
            groups=groups,
            licenses=licenses,
            apps=apps,
            department=department,
            usage_location=tenant.default_usage_location if tenant else "",
        )
        services.save_role_template(template, actor="system")

    def connections(self, tenants: dict[str, Tenant]) -> None:
        base = settings.SANDBOX_URL.rstrip("/")
        for slug, entra in demo.SANDBOX_ENTRA.items():
            endpoints = {"login_base_url": base, "graph_base_url": base}
            ids = {"directory_id": entra["directory_id"], "client_id": entra["client_id"]}
            self.connection(tenants[slug], "entra", entra["secret"], endpoints, ids)
        for slug, okta in demo.SANDBOX_OKTA.items():
            endpoints = {"org_url": f"{base}/okta/{okta['org']}"}
            self.connection(tenants[slug], "okta", okta["token"], endpoints, {})
        for slug, app in demo.SANDBOX_SCIM.items():
            endpoints = {"scim_base_url": f"{base}/scim/{app['slug']}/v2"}
            ids = {"name": app["name"], "scim_profile": app["profile"]}
            self.connection(tenants[slug], "scim", app["token"], endpoints, ids)

    def scim_templates(self, tenants: dict[str, Tenant]) -> None:
        """The demo role templates that give their tenant's SCIM app (and its groups)."""
        for slug, given in demo.SCIM_TEMPLATES.items():
            app = tenants[slug].connections.get(kind="scim", name=demo.SANDBOX_SCIM[slug]["name"])
            for name, groups in given.items():
                template = RoleTemplate.objects.get(tenant=tenants[slug], name=name)
                if template.scim_groups_for(app.pk) is None:
                    template.scim_apps = [
                        *template.scim_apps,
                        {"connection": app.pk, "groups": groups},
                    ]
                    services.save_role_template(template, actor="system")

    def connection(self, tenant, kind: str, secret: str, endpoints: dict, ids: dict) -> None:
        """A demo connection to SANDBOX_URL; one left by a demo whose sandbox listened on
        another port is moved to this one, its secret entered again with the new endpoint."""
        found = tenant.connections.filter(kind=kind)
        if kind == "scim":
            found = found.filter(name=ids["name"])
        connection = found.first()
        if connection is None:
            connection = DirectoryConnection(tenant=tenant, kind=kind, **ids, **endpoints)
        elif _points_elsewhere_on_loopback(connection, endpoints):
            for field, url in endpoints.items():
                setattr(connection, field, url)
        else:  # already on this sandbox, or pointed at a real directory by hand
            return
        services.save_connection(connection, new_secret=secret, actor="system")

    def person(self, tenants, username, first, last, role, all_tenants, slugs) -> None:
        if User.objects.filter(username=username).exists():
            return
        data = {
            "username": username,
            "first_name": first,
            "last_name": last,
            "email": f"{username}@msp.example",
            "role": role,
            "all_tenants": all_tenants,
            "tenants": [tenants[s] for s in slugs],
            "password": demo.DEMO_PASSWORD,
            "is_active": True,
        }
        save_person(data, actor="system")


def _points_elsewhere_on_loopback(connection: DirectoryConnection, endpoints: dict) -> bool:
    current = {field: getattr(connection, field) for field in endpoints}
    on_loopback = all(urlsplit(url).hostname in LOOPBACK for url in current.values())
    return on_loopback and current != endpoints
