"""Every page of the project, as an MSP admin and as a client admin, is HTML a validator
(the W3C's Nu checker) takes on the points it found here: htmx attributes spelt `data-hx-*`
(`hx-*` are no HTML attributes), one element per id, every label's `for` naming a control
of the page, no XML declaration (an inline SVG's) in an HTML document, no table row wider
than the table's first row (an empty list's one cell spanning more columns than the header
has: "Table column 8 established by element td has no cells beginning in it"), no
`aria-describedby` naming an element the page lacks (a field's help text without the id
Django's widget points at: "The aria-describedby attribute must point to an element in the
same document"), no bare `&` in a tag (an ampersand that starts no character reference:
`href="?tenant=x&page=2"`, which html5lib's strict parser refuses; written `&amp;`), no
section without a heading of its own ("Section lacks heading": a card that only holds the
page's table or form under the page's h1 is a div). And, for the reader rather than the
validator, no breadcrumb trail that ends in a separator ("Tenants / Contoso /" above the
page's h1: a trail ends with its last link)."""

import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.models import Job
from tests.factories import signed_in
from tests.test_isolation_crawl import crawl_urls

pytestmark = pytest.mark.django_db

BARE_AMPERSAND = re.compile(r"&(?!#?\w+;)")
BREADCRUMBS = re.compile(r'<div class="breadcrumbs[^"]*">(.*?)</div>', re.S)
TAG = re.compile(r"<[^>]+>")
# Nu: "Section lacks heading. Consider using h2-h6 elements to add identifying headings to
# all sections, or else use a div element instead for any cases where no heading is needed."
# A heading counts for the innermost sectioning element it is in.
SECTIONING = {"section", "article", "aside", "nav"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
CONTROLS = {"input", "select", "textarea", "button", "meter", "output", "progress"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.control_ids: set[str] = set()
        self.label_targets: list[str] = []
        self.described_by: list[str] = []
        self.bare_ampersands: list[str] = []
        self.bare_htmx: set[str] = set()
        self.declarations: list[str] = []
        self.tables: list[list[int]] = []  # per open table, the width of each of its rows
        self.wide_rows: list[str] = []
        self.sectioning: list[list] = []  # per open sectioning element: its tag, has a heading
        self.headless: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids[attributes["id"]] += 1
            if tag in CONTROLS and attributes.get("type") != "hidden":
                self.control_ids.add(attributes["id"])
        self.described_by += (attributes.get("aria-describedby") or "").split()
        tag_text = self.get_starttag_text() or ""
        self.bare_ampersands += [tag_text[:80] for _ in BARE_AMPERSAND.finditer(tag_text)]
        if tag == "label" and "for" in attributes:
            self.label_targets.append(attributes["for"] or "")
        self.bare_htmx |= {name for name in attributes if name.startswith("hx-")}
        if tag in SECTIONING:
            self.sectioning.append([tag_text[:80], False])
        elif tag in HEADINGS and self.sectioning:
            self.sectioning[-1][1] = True
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append(0)
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            span = attributes.get("colspan") or "1"
            self.tables[-1][-1] += int(span) if span.isdigit() else 1

    def handle_endtag(self, tag):
        if tag in SECTIONING and self.sectioning:
            opened, has_heading = self.sectioning.pop()
            if tag in ("section", "article") and not has_heading:
                self.headless.append(opened)
        if tag == "table" and self.tables:
            widths = self.tables.pop()
            self.wide_rows += [
                f"a row {width} columns wide in a table of {widths[0]}"
                for width in widths[1:]
                if width > widths[0]
            ]

    def handle_pi(self, data):
        self.declarations.append(data[:40])


def problems_of(html: str) -> list[str]:
    page = Page()
    page.feed(html)
    found = [f"id {name!r} {n} times" for name, n in page.ids.items() if n > 1]
    missing = [t for t in page.label_targets if t not in page.control_ids]
    found += [f"<label for={target!r}> names no control" for target in missing]
    found += [
        f"aria-describedby {i!r} names nothing" for i in page.described_by if i not in page.ids
    ]
    found += [f"attribute {name} (spell it data-{name})" for name in sorted(page.bare_htmx)]
    found += [f"<?{text}" for text in page.declarations]
    found += [f"a bare & in {text}" for text in page.bare_ampersands]
    found += [f"a section without a heading: {text}" for text in page.headless]
    found += [
        f"a breadcrumb trail ending in a separator: {trail}"
        for trail in (" ".join(TAG.sub("", crumbs).split()) for crumbs in BREADCRUMBS.findall(html))
        if trail.endswith("/")
    ]
    return found + page.wide_rows


@pytest.mark.parametrize("role", [Role.MSP_ADMIN, Role.CLIENT_ADMIN])
def test_every_page_passes_the_validators_checks(client, alpha, msp_admin, msp_template, role):
    signed_in(client, msp_admin if role == Role.MSP_ADMIN else alpha.people[role])
    pages, found = 0, []
    for name, url, _ in crawl_urls(alpha, {"msp_template": msp_template}):
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        found += [f"{name} {url}: {problem}" for problem in problems_of(response.text)]
    assert pages > (60 if role == Role.MSP_ADMIN else 15)
    assert found == []


def test_the_checks_find_what_the_validator_found():
    broken = (
        '<form hx-post="/x"><label for="">Tenants</label><input id="a"><input id="a">'
        '<label for="gone">Gone</label><?xml version="1.0"?>'
        '<input id="b" aria-describedby="b_helptext"></form><a href="?a=1&b=2">Next</a>'
        "<table><thead><tr><th>A</th><th>B</th></tr></thead>"
        '<tbody><tr><td colspan="3">None</td></tr></tbody></table>'
        '<section class="card"><p>x</p><section><h2>Inner</h2></section></section>'
        '<div class="breadcrumbs"><a href="/t/">Tenants</a> / <a href="/t/c/">Contoso</a> /</div>'
    )
    assert problems_of(broken) == [
        "id 'a' 2 times",
        "<label for=''> names no control",
        "<label for='gone'> names no control",
        "aria-describedby 'b_helptext' names nothing",
        "attribute hx-post (spell it data-hx-post)",
        '<?xml version="1.0"?',
        'a bare & in <a href="?a=1&b=2">',
        'a section without a heading: <section class="card">',
        "a breadcrumb trail ending in a separator: Tenants / Contoso /",
        "a row 3 columns wide in a table of 2",
    ]
    assert (
        problems_of(
            '<form data-hx-post="/x"><label for="a">A</label><input id="a"></form>'
            '<a href="?a=1&amp;b=2&#38;c=3" title="Q&amp;A">Next</a>'
            '<section><div class="card-head"><h2>Drift</h2></div><p>x</p></section>'
            '<div class="breadcrumbs"><a href="/t/">Tenants</a> / <a href="/t/c/">Contoso</a></div>'
        )
        == []
    )


@pytest.mark.parametrize(
    "name,query,empty",
    [
        ("people_list", {"q": "no such person"}, "Nobody matches."),
        ("requestable_list", {}, "Nothing is requestable yet."),
    ],
)
def test_an_empty_list_spans_only_the_columns_a_client_admin_sees(
    client, alpha, name, query, empty
):
    """A client admin's lists have no actions column: their empty row spans one less."""
    client.force_login(alpha.people[Role.CLIENT_ADMIN])
    response = client.get(reverse(name, kwargs={"tenant": alpha.tenant.slug}), query)
    assert empty in response.text
    assert problems_of(response.text) == []


def test_a_form_sent_back_with_errors_describes_each_field_by_its_help_and_error(client, msp_admin):
    """Django points a field at `<id>_helptext` and `<id>_error`: both are on the page."""
    signed_in(client, msp_admin)
    response = client.post(reverse("staff_create"), {"username": "", "email": "not an address"})
    assert 'aria-invalid="true"' in response.text
    assert problems_of(response.text) == []


def test_a_filtered_list_with_more_pages_links_them_in_valid_html(client, alpha):
    """The pager joins the filter and the page with `&amp;` (it was a bare `&`)."""
    Job.objects.bulk_create(Job(tenant=alpha.tenant, kind=Job.Kind.RECONCILE) for _ in range(30))
    client.force_login(alpha.technician)
    response = client.get(reverse("job_list"), {"tenant": alpha.tenant.slug, "page": 2})
    assert "Newer" in response.text
    assert problems_of(response.text) == []
