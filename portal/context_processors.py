from django.conf import settings

from portal.models import Role, has_role, role_of


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    role = role_of(user)
    return {
        "msp_name": settings.MSP_NAME,
        "current_role": role,
        "current_role_label": Role(role).label if role else "",
        "is_msp_admin": has_role(user, (Role.MSP_ADMIN,)),
        "can_operate": has_role(user, (Role.MSP_ADMIN, Role.TECHNICIAN)),
        "nav_section": _section(request),
    }


def _section(request) -> str:
    """The first path segment names the section the sidebar highlights."""
    first = request.path.strip("/").split("/", 1)[0]
    return first or "dashboard"
