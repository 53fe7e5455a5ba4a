"""A chart's legend stays inside its picture: the licence chart's legend names each SKU as
the admin center does ("Enterprise Mobility + Security E3"), and on one line its third name
began past the picture's right edge, cut off at every width."""

import re

from reports.charts import HEIGHT, WIDTH, Series, line_chart

NAMES = ["Enterprise Mobility + Security E3", "Microsoft 365 Business Standard", "Microsoft 365 E3"]


def legend_entries(svg: str) -> list[tuple[float, float, str]]:
    return [
        (float(x), float(y), name)
        for x, y, name in re.findall(
            r'<text x="([\d.]+)" y="([\d.]+)" fill="#1c2430">([^<]+)<', svg
        )
    ]


def test_a_legend_too_long_for_one_line_wraps_and_the_picture_grows():
    svg = str(
        line_chart(["1 Dec", "2 Dec"], [Series(n, [1, 2]) for n in NAMES], title="t", desc="d")
    )
    entries = legend_entries(svg)
    assert [name for _, _, name in entries] == NAMES
    # 7.5 units a character: the width the legend allows each name
    assert all(x + 7.5 * len(name) <= WIDTH for x, _, name in entries)
    height = float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', svg).group(1))
    assert height > HEIGHT and all(y < height for _, y, _ in entries)


def test_a_short_legend_keeps_one_line_and_the_pictures_size():
    svg = str(
        line_chart(["1 Dec"], [Series("EMS", [1]), Series("SPE_E3", [2])], title="t", desc="d")
    )
    assert len({y for _, y, _ in legend_entries(svg)}) == 1
    assert f'viewBox="0 0 {WIDTH} {HEIGHT}"' in svg
