"""Playwright driving Debian's chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Error as PlaywrightError

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# itself (fixtures) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser():
    """Per package: Playwright's sync API holds an event loop on this thread while it runs,
    and later tests (asyncio.run in the sandbox tests) need the thread free of it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM}: `apt-get install chromium`."
        )
    # The live server does not warm the directory SDKs as the web server can as it starts
    # (settings.WARM_CONNECTORS): the first page of a test process that asks a connector's
    # class for its capabilities (the client report: does Okta bill licences?) imported the
    # Okta SDK inside a click's wait (22 s with the machine's load average at 13), in
    # whichever browser test came first on that pytest worker. Imported here, once, before
    # any wait.
    from provisioning.connectors import factory

    factory.import_every_kind()
    # Django keeps a thread's connections in a context variable (asgiref's Local), and
    # entering Playwright's sync API gives this thread another context: the connection opened
    # before it stayed open, idle and out of reach, while the package ran, and the one opened
    # inside it was left for the garbage collector when Playwright ended. A connection still
    # open when the session drops the test database fails the drop ("being accessed by other
    # users"). Each is closed before its context is left.
    connections.close_all()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    # Chromium reports what the Content-Security-Policy refused (an inline style or handler:
    # a broken button or look) on the console; a flow that trips it fails.
    refused: list[str] = []
    context.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert refused == [], f"refused by the Content-Security-Policy: {refused}"


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except PlaywrightError as refused:
            # Chromium's compositor now and then refuses a capture it makes on the next ask
            # (seen once under three pytest workers; puppeteer#5341, upstream): once more.
            if "Unable to capture screenshot" not in str(refused):
                raise
            page.screenshot(path=str(path), full_page=True)
        return path

    return take


# The page and each card that scrolls sideways (a card scrolls what it cannot fit), by name.
SIDEWAYS = """() => [document.scrollingElement, ...document.querySelectorAll('.card')]
  .filter(box => box.scrollWidth > box.clientWidth)
  .map(box => box.id || box.className || box.tagName)"""


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def assert_the_button_follows_the_dry_run(page, button, screenshot, name: str) -> None:
    """A form beside its dry run: at 1280 px the form's button sits just under the form's card;
    on a phone (390 px, one column) the whole dry run comes before the button."""
    form = page.locator(".onboard-layout > .card:not(.plan-card)").first.bounding_box()
    under = button.bounding_box()["y"] - (form["y"] + form["height"])
    assert 0 <= under < 30, f"the button is {under} px under the form's card"
    page.set_viewport_size({"width": 390, "height": 844})
    plan = page.locator(".plan-card").bounding_box()
    assert plan["y"] + plan["height"] <= button.bounding_box()["y"], "the button precedes the plan"
    screenshot(f"{name}-phone-plan-then-button")
    page.set_viewport_size({"width": 1280, "height": 900})
