"""The OpenAPI document's links (OpenAPI 3.1, 4.8.20 Link Object): where an answer names a
resource, the link says which operation reads or acts on it and with which value, so a
client (and schemathesis' stateful phase) can chain the calls: an onboarding's 202 to its
job, a filed access request to its decision, a person to their accounts."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client(HTTP_HOST="localhost").get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.json()


def operation(document, method: str, path: str) -> dict:
    return document["paths"][API + path][method]


def links(document, method: str, path: str, status: str) -> dict:
    return operation(document, method, path)["responses"][status].get("links", {})


def target(document, link: dict) -> str:
    found = [
        f"{method.upper()} {path.removeprefix(API)}"
        for path, operations in document["paths"].items()
        for method, op in operations.items()
        if op["operationId"] == link["operationId"]
    ]
    assert len(found) == 1, link
    return found[0]


ACCEPTED = [
    ("post", "/tenants/{slug}/people"),
    ("post", "/people/{id}/change"),
    ("post", "/people/{id}/offboard"),
    ("post", "/people/{id}/restore"),
    ("post", "/jobs/{id}/retry"),
    ("post", "/jobs/{id}/cancel"),
]


@pytest.mark.parametrize("method,path", ACCEPTED)
def test_an_accepted_answer_links_to_its_job(document, method, path):
    found = links(document, method, path, "202")
    to_job = [
        link
        for link in found.values()
        if target(document, link) == "GET /jobs/{id}"
        and link["parameters"] == {"id": "$response.body#/job/id"}
    ]
    assert to_job, found


@pytest.mark.parametrize("verb", ["change", "offboard", "restore"])
def test_a_persons_job_links_back_to_the_person(document, verb):
    found = links(document, "post", f"/people/{{id}}/{verb}", "202")
    assert {
        "operationId": operation(document, "get", "/people/{id}")["operationId"],
        "parameters": {"id": "$request.path.id"},
    } in [
        {k: v for k, v in link.items() if k in ("operationId", "parameters")}
        for link in found.values()
    ]


def test_a_filed_access_request_links_to_its_decision(document):
    found = links(document, "post", "/tenants/{slug}/access-requests", "201")
    targets = {target(document, link): link["parameters"] for link in found.values()}
    assert targets["POST /access-requests/{id}/decision"] == {"id": "$response.body#/id"}
    assert targets["GET /people/{id}"] == {"id": "$response.body#/person"}


@pytest.mark.parametrize(
    "method,path,status,wanted",
    [
        ("get", "/tenants/{slug}", "200", "POST /tenants/{slug}/people"),
        ("get", "/tenants/{slug}", "200", "POST /tenants/{slug}/access-requests"),
        ("get", "/tenants/{slug}", "200", "GET /tenants/{slug}/report"),
        ("get", "/tenants/{slug}", "200", "GET /tenants/{slug}/report.csv"),
        ("get", "/tenants", "200", "GET /tenants/{slug}/report"),
        ("get", "/people/{id}", "200", "GET /people/{id}/accounts"),
        ("get", "/people/{id}", "200", "POST /people/{id}/offboard"),
        ("get", "/jobs/{id}", "200", "POST /jobs/{id}/cancel"),
        ("get", "/jobs/{id}", "200", "GET /people/{id}"),
        ("get", "/tenants", "200", "GET /tenants/{slug}"),
        ("get", "/people", "200", "GET /people/{id}"),
        ("get", "/jobs", "200", "GET /jobs/{id}"),
    ],
)
def test_a_read_links_to_what_it_names(document, method, path, status, wanted):
    found = links(document, method, path, status)
    assert wanted in {target(document, link) for link in found.values()}, found


def test_every_link_names_one_operation_and_only_its_parameters(document):
    for path, operations in document["paths"].items():
        for op in operations.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    method, to = target(document, link).split(" ")
                    params = {
                        p["name"]
                        for p in document["paths"][API + to][method.lower()].get("parameters", [])
                        if p["in"] == "path"
                    }
                    assert set(link["parameters"]) == params, (path, link)
