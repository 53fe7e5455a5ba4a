"""Who may receive a leaver's mail and OneDrive, by what the directory says of them
(`engine/mailbox._not_member`): a member, never a guest. Accounts made before Entra had
`userType` (about 2014) read null ("" here): Graph users ask how to tell them apart
(techcommunity, "Validate Guest/Member users for accounts created before 2014"); such an
account is no invited guest (those came later, with an `#EXT#` UPN), so it is judged by its
name and, as every recipient, by its address at the client's verified domains."""

from __future__ import annotations

import pytest

from provisioning.engine.mailbox import _not_member


@pytest.mark.parametrize(
    ("user_type", "username"),
    [("Member", "bo@contoso.example"), ("", "old.timer@contoso.example")],
)
def test_a_member_or_an_account_older_than_user_type_may_receive(user_type, username):
    assert _not_member(user_type, username) == ""


@pytest.mark.parametrize(
    ("user_type", "username", "words"),
    [
        ("Guest", "gus_partner.example#EXT#@contoso.example", "is a guest"),
        ("", "gus_partner.example#EXT#@contoso.example", "is a guest"),
        ("Member", "gus_partner.example#EXT#@contoso.example", "is a guest"),
        (None, "gone@contoso.example", "no longer in the client's directory"),
        ("Agent", "bot@contoso.example", "userType Agent"),
    ],
)
def test_a_guest_someone_gone_or_an_unknown_kind_may_not(user_type, username, words):
    assert words in _not_member(user_type, username)
