"""The next page's cursor is found in whichever Link header holds it (okta_links.py)."""

from types import SimpleNamespace

from multidict import CIMultiDict, CIMultiDictProxy

from provisioning.connectors.okta_links import next_cursor

SELF = '<https://acme.okta.com/api/v1/users?limit=200>; rel="self"'
NEXT = '<https://acme.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"'


def answer(*links: str, as_dict: bool = False) -> SimpleNamespace:
    if as_dict:  # the SDK's answer: one value a name, the last one kept
        return SimpleNamespace(headers={"Link": links[-1]} if links else {})
    headers = CIMultiDict(("Link", link) for link in links)
    return SimpleNamespace(headers=CIMultiDictProxy(headers))  # aiohttp's answer


def test_the_next_link_is_found_in_a_header_of_its_own_in_any_order():
    assert next_cursor(answer(SELF, NEXT)) == "00u1"  # as Okta sends them
    assert next_cursor(answer(NEXT, SELF)) == "00u1"
    assert next_cursor(answer(f"{SELF}, {NEXT}")) == "00u1"  # one header, comma-joined
    assert next_cursor(answer(SELF, NEXT, as_dict=True)) == "00u1"


def test_the_last_page_has_no_cursor():
    assert next_cursor(answer(SELF)) is None
    assert next_cursor(answer()) is None
    assert next_cursor(None) is None
