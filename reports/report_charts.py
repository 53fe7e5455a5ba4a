"""The client report's two charts, from its figures."""

from __future__ import annotations

from django.utils.safestring import SafeString

from portal.licences import product_name
from reports.charts import Series, bar_chart, line_chart
from reports.report import Report


def weekly_chart(report: Report) -> SafeString:
    labels = [f"{w.start:%-d %b}" for w in report.weeks]
    joiners = [w.joiners for w in report.weeks]
    leavers = [w.leavers for w in report.weeks]
    return bar_chart(
        labels,
        [Series("Joiners", joiners), Series("Leavers", leavers)],
        title="Joiners and leavers per week",
        desc=f"{sum(joiners)} joiners and {sum(leavers)} leavers over {len(labels)} weeks, "
        "by the week (from Monday, or from the period's first day) in which each was done.",
    )


def licence_chart(report: Report) -> SafeString | None:
    series = [s for s in report.licences if s.points]
    if not series:
        return None
    labels = [f"{d:%-d %b}" for d, _ in series[0].points]
    names = {s.sku: product_name(s.sku) or s.sku for s in series}
    parts = ", ".join(f"{names[s.sku]} {s.points[-1][1]}" for s in series)
    return line_chart(
        labels,
        [Series(names[s.sku], [v for _, v in s.points]) for s in series],
        title="Licence seats in use",
        desc=f"Seats in use per SKU at the end of each day; on the last day: {parts}.",
    )
