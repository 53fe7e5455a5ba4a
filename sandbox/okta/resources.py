"""The JSON each object is served as, in the Okta Management API's shapes.

`base` is the org URL the client used (e.g. https://127.0.0.1:8765/okta/fabrikam), so the
`_links` point back into the same org.
"""

from __future__ import annotations

from .model import App, Assignment, Group, User

USER_TYPE_ID = "oty1sandboxdefault00"


def user_json(user: User, base: str) -> dict:
    user.settle()
    href = f"{base}/api/v1/users/{user.id}"
    credentials: dict = {"provider": {"type": "OKTA", "name": "OKTA"}}
    if user.has_password:
        credentials["password"] = {}
    # Okta sends transitioningToStatus only while a lifecycle change is under way.
    transition = {"transitioningToStatus": user.transitioning_to} if user.transitioning_to else {}
    return {
        "id": user.id,
        "status": user.status,
        "created": user.created,
        "activated": user.activated,
        "statusChanged": user.status_changed,
        "lastLogin": user.last_login,
        "lastUpdated": user.last_updated,
        "passwordChanged": user.password_changed,
        "type": {"id": USER_TYPE_ID},
        "profile": user.profile,
        "credentials": credentials,
        **transition,
        "_links": {"self": {"href": href}},
    }


# objectClass per group type; an imported group here stands for an Active Directory group.
_OBJECT_CLASS = {
    "OKTA_GROUP": ["okta:user_group"],
    "APP_GROUP": ["okta:windows_security_principal"],
    "BUILT_IN": ["okta:user_group"],
}


def group_json(group: Group, base: str) -> dict:
    href = f"{base}/api/v1/groups/{group.id}"
    links = {
        "self": {"href": href},
        "users": {"href": f"{href}/users"},
        "apps": {"href": f"{href}/apps"},
    }
    if group.source_app_id:
        links["source"] = {"href": f"{base}/api/v1/apps/{group.source_app_id}"}
    return {
        "id": group.id,
        "created": group.created,
        "lastUpdated": group.last_updated,
        "lastMembershipUpdated": group.last_membership_updated,
        "objectClass": _OBJECT_CLASS[group.type],
        "type": group.type,
        "profile": group_profile(group),
        "_links": links,
    }


def group_profile(group: Group) -> dict:
    profile = {"name": group.name, "description": group.description}
    if group.type == "APP_GROUP":  # what an Active Directory import carries
        account = group.name.replace(" ", "")[:20]
        profile |= {
            "samAccountName": account,
            "windowsDomainQualifiedName": f"CORP\\{account}",
            "groupType": "Security",
            "groupScope": "Global",
            "externalId": group.id,
        }
    return profile


def app_group_json(app: App, group_id: str, assigned: str, base: str) -> dict:
    """An ApplicationGroupAssignment."""
    return {
        "id": group_id,
        "lastUpdated": assigned,
        "priority": list(app.groups).index(group_id),
        "profile": {},
        "_links": {
            "app": {"href": f"{base}/api/v1/apps/{app.id}"},
            "group": {"href": f"{base}/api/v1/groups/{group_id}"},
        },
    }


def app_json(app: App, base: str) -> dict:
    href = f"{base}/api/v1/apps/{app.id}"
    return {
        "id": app.id,
        "name": app.name,
        "label": app.label,
        "status": app.status,
        "created": app.created,
        "lastUpdated": app.last_updated,
        "signOnMode": app.sign_on_mode,
        "features": [],
        "accessibility": {"selfService": False},
        "visibility": {
            "autoSubmitToolbar": False,
            "hide": {"iOS": False, "web": False},
            "appLinks": {"login": True},
        },
        "_links": {"self": {"href": href}, "users": {"href": f"{href}/users"}},
    }


def app_user_json(app: App, assignment: Assignment, base: str) -> dict:
    return {
        "id": assignment.user_id,
        "scope": assignment.scope,
        "status": "PROVISIONED",
        "syncState": "DISABLED",
        "created": assignment.created,
        "lastUpdated": assignment.last_updated,
        "statusChanged": assignment.created,
        "credentials": {"userName": assignment.user_name},
        "profile": assignment.profile,
        "_links": {
            "app": {"href": f"{base}/api/v1/apps/{app.id}"},
            "user": {"href": f"{base}/api/v1/users/{assignment.user_id}"},
        },
    }


def app_link_json(app: App, assignment: Assignment, base: str, order: int) -> dict:
    return {
        "id": f"00ub0{app.id[5:]}",
        "label": app.label,
        "linkUrl": f"{base}/home/{app.name}/{app.id}/login",
        "logoUrl": f"{base}/assets/img/logos/default.png",
        "appName": app.name,
        "appInstanceId": app.id,
        "appAssignmentId": f"0ua{assignment.user_id[3:]}",
        "credentialsSetup": False,
        "hidden": False,
        "sortOrder": order,
    }
