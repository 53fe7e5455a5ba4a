from django.conf import settings

from portal.models import Role, role_of


def navigation(request) -> dict:
    role = role_of(getattr(request, "user", None))
    return {
        "msp_name": settings.MSP_NAME,
        "current_role": role,
        "current_role_label": Role(role).label if role else "",
        "is_msp_admin": role == Role.MSP_ADMIN,
        "can_operate": role in (Role.MSP_ADMIN, Role.TECHNICIAN),
        "nav_section": _section(request),
    }


def _section(request) -> str:
    """The first path segment names the section the sidebar highlights."""
    first = request.path.strip("/").split("/", 1)[0]
    return first or "dashboard"
