"""The demo tenants, their role templates and the people who use them.

The directory ids and credentials match what `runsandbox --seed demo` creates; they are
copied here by value because the portal and the sandbox never import each other.
"""

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed by `make demo`; demo data only

SANDBOX_ENTRA = {
    "contoso": {
        "directory_id": "6f1d3c2a-7b8e-4c1d-9a2f-0c5e8b7a1d01",
        "client_id": "0c7a9e52-3f41-4d8b-a6e2-5b9c1d2e3f01",
        "secret": "contoso-demo-secret",
    },
    "northwind": {
        "directory_id": "6f1d3c2a-7b8e-4c1d-9a2f-0c5e8b7a1d03",
        "client_id": "0c7a9e52-3f41-4d8b-a6e2-5b9c1d2e3f03",
        "secret": "northwind-demo-secret",
    },
}
SANDBOX_OKTA = {
    "fabrikam": {"org": "fabrikam", "token": "fabrikam-demo-token"},
    "northwind": {"org": "northwind", "token": "northwind-demo-token"},
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

ROLE_TEMPLATES = {
    "contoso": [
        ("Sales", ["All Staff", "Sales Team"], ["O365_BUSINESS_PREMIUM"], ["Salesforce"], "Sales"),
        (
            "Support",
            ["All Staff", "Support Team"],
            ["O365_BUSINESS_PREMIUM"],
            ["Zendesk"],
            "Support",
        ),
        ("Engineering", ["All Staff", "Engineering"], ["SPE_E3"], ["GitHub"], "Engineering"),
    ],
    "fabrikam": [
        ("Sales", ["Everyone", "Sales"], [], ["Salesforce", "Slack"], "Sales"),
        ("Support", ["Everyone", "Support"], [], ["Zendesk", "Slack"], "Support"),
        ("Finance", ["Everyone", "Finance"], [], ["Workday"], "Finance"),
    ],
    "northwind": [
        ("Sales", ["All Staff", "Sales Team"], ["O365_BUSINESS_PREMIUM"], ["Salesforce"], "Sales"),
        ("Warehouse", ["All Staff", "Warehouse"], ["EMS"], [], "Logistics"),
        ("Office", ["All Staff", "Office"], ["SPE_E3"], ["Zoom"], "Administration"),
    ],
}

MSP_TEMPLATES = [
    ("Standard employee", ["All Staff"], ["O365_BUSINESS_PREMIUM"], [], ""),
    ("Sales", ["All Staff", "Sales Team"], ["O365_BUSINESS_PREMIUM"], ["Salesforce"], "Sales"),
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
