"""The SCIM connector on a connection in OAuth 2.0 client credentials mode (RFC 6749 §4.4),
against the sandbox app's token endpoint: it gets a token, provisions, renews the token when
it expires and keeps working; a wrong client secret is a clear permanent error."""

import time

import pytest

from provisioning.connectors import bridge
from provisioning.connectors.errors import AuthenticationError, EndpointRefusedError
from provisioning.connectors.factory import connector_for
from provisioning.connectors.scim import ScimConnector
from tests.provisioning.scim_apps import PROFILES, connect, make_app
from tests.provisioning.test_scim_connector import joiner

pytestmark = pytest.mark.django_db


def run(coroutine):
    return bridge.run(coroutine, timeout=30)


def token_requests(app) -> int:
    return app.control("GET", "/stats").json()["calls"].get("POST /oauth/token", 0)


def test_an_oauth_connection_gets_a_token_provisions_and_renews_it(on_sandbox, alpha):
    app = make_app(on_sandbox, "full")
    scim = connector_for(connect(alpha.tenant, app, oauth=True))
    created = run(scim.create_user(joiner("ada@co.example")))
    assert app.user("ada@co.example")["name"]["givenName"] == "Ada"
    asked = token_requests(app)
    assert asked == 1  # one token for discovery and the create

    app.control("POST", "/tokens/expire")  # the app no longer takes the token
    run(scim.update_user(created.id, {"job_title": "Director"}))
    assert app.user("ada@co.example")["title"] == "Director"
    assert token_requests(app) == asked + 1  # refused once, renewed, sent again

    run(scim.disable_user(created.id))
    assert app.user("ada@co.example")["active"] is False
    assert token_requests(app) == asked + 1  # the renewed token is kept


def test_a_token_is_renewed_before_it_expires(on_sandbox, alpha):
    app = make_app(on_sandbox, "full")
    app.control("PUT", "/settings", json={"token_lifetime_s": 1})
    scim = connector_for(connect(alpha.tenant, app, oauth=True))
    run(scim.probe())
    time.sleep(1.0)  # the token's lifetime passes
    run(scim.probe())
    # The connector renewed it (`expires_in` less a tenth) instead of sending it expired:
    # no call of the app was refused.
    refused = app.control("GET", "/stats").json()["statuses"].get("401", 0)
    assert token_requests(app) == 2 and refused == 0


def test_a_wrong_client_secret_is_a_permanent_error_naming_the_refusal(on_sandbox):
    app = make_app(on_sandbox, "full")
    wrong = "not-the-client-secret-7f3a"  # noqa: S105 - a test value
    scim = ScimConnector(
        base_url=app.base_url,
        secret=wrong,
        auth="oauth",
        token_url=app.token_url,
        client_id=app.client_id,
        profile=PROFILES[app.flavour],
    )
    with pytest.raises(AuthenticationError) as refused:
        run(scim.probe())
    message = refused.value.message
    assert "token URL refused the client credentials" in message and "invalid_client" in message
    assert wrong not in message and app.client_secret not in message
    assert app.control("GET", "/stats").json()["calls"].get("GET /ServiceProviderConfig") is None


def test_a_token_url_elsewhere_is_refused_before_anything_is_sent(on_sandbox):
    app = make_app(on_sandbox, "full")
    for token_url in ("https://10.0.0.8/oauth/token", "http://login.example/oauth/token"):
        scim = ScimConnector(
            base_url=app.base_url,
            secret=app.client_secret,
            auth="oauth",
            token_url=token_url,
            client_id=app.client_id,
        )
        with pytest.raises(EndpointRefusedError):
            run(scim.probe())
    assert token_requests(app) == 0
