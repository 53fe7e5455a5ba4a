"""ISO 3166-1 alpha-2 country codes, the only usage locations Microsoft Graph takes ("A
two-letter country code (ISO standard 3166)", Graph's user resource): two letters are not
enough, UK (the United Kingdom is GB) and EU name no country and would fail at the directory."""

from __future__ import annotations

_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
"""
ISO_3166_ALPHA_2 = frozenset(_CODES.split())
# Two letters people type for a country whose code is another.
_MEANT = {"UK": "GB", "EL": "GR"}


def country_code_problem(code: str) -> str | None:
    """Why `code` (upper case) is no usage location, or None when it is one."""
    if code in ISO_3166_ALPHA_2:
        return None
    if code in _MEANT:
        return f"{code} is not an ISO 3166 country code: use {_MEANT[code]}."
    return f"{code} is not an ISO 3166 country code such as GB, US or DE."


def three_letter_problem(code: str) -> str | None:
    """A three-letter code (ISO 3166 alpha-3, as HR systems export it) said as such, without
    guessing its two letters (AUT is AT, not AU); None for any other code."""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        return None
    return (
        f"{code.upper()} is a three-letter code: a usage location is the two-letter ISO 3166 "
        "code, such as US (not USA), GB (not GBR) or DE (not DEU)."
    )
