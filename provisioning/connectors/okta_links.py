"""The next page's cursor of an Okta list answer.

Okta sends each link of a page in a Link header of its own, `self` then `next` (the List
Users example in Okta's API reference; support.okta.com, "Pagination Overview": "two link
headers"). The SDK's helper reads one header value, and which one it sees depends on the
headers' type: the aiohttp answer's multidict gives the first (`self`: paging would stop
after one page), the SDK's dict the last. The cursor is looked for in every Link header.
"""

from __future__ import annotations

from okta.pagination import PaginationHelper


def next_cursor(response) -> str | None:
    """The `after` of the answer's `rel="next"` link, or None on the last page."""
    if response is None:
        return None
    headers = response.headers
    if hasattr(headers, "getall"):
        links = [*headers.getall("Link", [])]
    else:
        links = [headers.get("Link") or headers.get("link") or ""]
    return PaginationHelper.extract_next_cursor({"Link": ", ".join(links)})
