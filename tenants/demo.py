"""The demo tenants, their role templates and the people who use them.

The directory ids and credentials match what `runsandbox --seed demo` creates; they are
copied here by value because the portal and the sandbox never import each other.
"""

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed by `make demo`; demo data only

SANDBOX_ENTRA = {
    "contoso": {
        "directory_id": "6f2c1a3e-5b7d-4c9e-8a1f-c0a7e5500001",
        "client_id": "0c0a7e55-d3e0-4a11-9f00-c0a7e5500a01",
        "secret": "contoso-demo-secret",
    },
    "northwind": {
        "directory_id": "9a4d2b6c-1e3f-4a5b-8c7d-a0e7b1d00002",
        "client_id": "0a0e7b1d-d3e0-4a11-9f00-a0e7b1d00a02",
        "secret": "northwind-demo-secret",
    },
}
SANDBOX_OKTA = {
    "fabrikam": {"org": "fabrikam", "token": "fabrikam-demo-token-00Okta5andb0xF4br1kam"},
    "northwind": {"org": "northwind", "token": "northwind-demo-token-00Okta5andb0xN0rthw1nd"},
}

# SCIM apps of the sandbox's demo (sandbox/scim/demo.py): base URL SANDBOX_URL/scim/<slug>/v2.
SANDBOX_SCIM = {
    "contoso": {
        "slug": "contoso-slack",
        "name": "Slack",
        "token": "contoso-slack-demo-scim-token",
        "profile": "slack",
    },
    "fabrikam": {
        "slug": "fabrikam-zoom",
        "name": "Zoom",
        "token": "fabrikam-zoom-demo-scim-token",
        "profile": "zoom",
    },
    "northwind": {
        "slug": "northwind-dropbox",
        "name": "Dropbox",
        "token": "northwind-dropbox-demo-scim-token",
        "profile": "generic",
    },
}
# Role templates that give a tenant's SCIM app: template name -> the app's groups (channels).
SCIM_TEMPLATES = {
    "contoso": {"Engineering": ["All Hands", "Engineering"], "Sales": ["All Hands", "Sales"]},
    "fabrikam": {"Support": []},  # Zoom has no groups
    # Northwind's Office joiners reach all three kinds: Entra groups, licence and app, Okta
    # groups, and Dropbox's team folders: the one-form onboarding the demo points at.
    "northwind": {"Office": ["Everyone", "Office"]},
}

TENANTS = [
    {
        "name": "Contoso",
        "slug": "contoso",
        "primary_domain": "contoso.example",
        "other_domains": ["contoso-uk.example"],
        "default_usage_location": "GB",
        "time_zone": "Europe/London",
        "tags": ["gold", "microsoft-365"],
    },
    {
        "name": "Fabrikam",
        "slug": "fabrikam",
        "primary_domain": "fabrikam.example",
        "other_domains": [],
        "default_usage_location": "US",
        "time_zone": "America/New_York",
        "tags": ["okta"],
    },
    {
        "name": "Northwind",
        "slug": "northwind",
        "primary_domain": "northwind.example",
        "other_domains": ["northwindtraders.example"],
        "default_usage_location": "DE",
        "time_zone": "Europe/Berlin",
        "tags": ["gold", "hybrid"],
    },
]

# Group, SKU and app names as the sandbox's demo directories have them (sandbox/seed.py). An
# app with several roles for users is named with the one a joiner gets (an Okta app has no
# roles: the name before " / " is enough there).
SALESFORCE, SLACK = "Salesforce / User", "Slack / Member"
ROLE_TEMPLATES = {
    "contoso": [
        ("Sales", ["All Staff", "Sales Team"], ["O365_BUSINESS_PREMIUM"], [SALESFORCE], "Sales"),
        ("Support", ["All Staff", "Support Team", "VPN Users"], ["EMS"], ["ServiceNow"], "Support"),
        (
            "Engineering",
            ["All Staff", "Engineering Team", "VPN Users"],
            ["SPE_E3"],
            [SLACK],
            "Engineering",
        ),
    ],
    "fabrikam": [
        ("Sales", ["All Staff", "Sales"], [], ["Salesforce", "Slack"], "Sales"),
        ("Support", ["All Staff", "Support"], [], ["Zoom", "Slack"], "Support"),
        ("Finance", ["All Staff", "Finance"], [], ["Workday"], "Finance"),
    ],
    "northwind": [
        ("Sales", ["All Staff", "VPN Users"], ["O365_BUSINESS_PREMIUM"], [SALESFORCE], "Sales"),
        ("Operations", ["All Staff"], ["EMS"], ["Zoom"], "Operations"),
        ("Office", ["All Staff", "Managers"], ["SPE_E3"], [SLACK], "Operations"),
    ],
}

MSP_TEMPLATES = [
    ("Standard employee", ["All Staff"], ["O365_BUSINESS_PREMIUM"], [], ""),
    ("Sales", ["All Staff", "Sales Team"], ["O365_BUSINESS_PREMIUM"], [SALESFORCE], "Sales"),
]

# username, first, last, role, all_tenants, tenant slugs
PEOPLE = [
    ("admin", "Morgan", "Avery", "msp_admin", False, []),
    ("tech", "Taylor", "Brooks", "technician", True, []),
    ("tech.cn", "Casey", "Nguyen", "technician", False, ["contoso", "northwind"]),
    ("am.fabrikam", "Alex", "Fischer", "account_manager", False, ["fabrikam"]),
    ("ca.contoso", "Chris", "Contoso-Admin", "client_admin", False, ["contoso"]),
    ("ca.fabrikam", "Pat", "Fabrikam-Admin", "client_admin", False, ["fabrikam"]),
    ("ca.northwind", "Sam", "Northwind-Admin", "client_admin", False, ["northwind"]),
]
