"""The reports page and its CSV, for a company's admins.

Admins only: the figures compare supporters with each other, which is a lead's view, not a
colleague's. The period is whole UTC days (``from`` and ``to``, ``YYYY-MM-DD``, the last seven
days when none is chosen); the figures come from :mod:`server.reports`.
"""

import csv
import io
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from server import reports
from server.api.deps import ReadDB
from server.logins import Login
from server.models import utcnow
from server.web.deps import AdminLoginDep
from server.web.errors import WebError
from server.web.templating import render
from sosqueue.i18n import N_

router = APIRouter()

BAD_PERIOD = N_("Choose the period as two dates (YYYY-MM-DD), the first not after the last, at most {days} days "
                "apart.")
TOO_MANY = N_("This period holds more than {count} requests, too many for one report. Choose a shorter one.")

#: Cells that a spreadsheet would read as a formula start with one of these; they get a leading ' .
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("scope", "name", "requests", "first_join_median_seconds", "first_join_p90_seconds",
               "close_median_seconds", "close_p90_seconds", "expired_share")
CHART_WIDTH = 480  # the bars' room, in SVG units

FromDate = Annotated[str | None, Query(alias="from", max_length=20)]
ToDate = Annotated[str | None, Query(alias="to", max_length=20)]


class PeriodRefused(Exception):
    """The chosen period cannot be reported on; ``message`` says why (English, translated on the page)."""

    def __init__(self, message: str, **values):
        super().__init__(message)
        self.message = message
        self.values = values


def _report(session, login: Login, first: str | None, last: str | None) -> reports.Report:
    now = utcnow()
    try:
        period = reports.parse_period(first, last, today=now.date())
        return reports.build_report(session, company_id=login.user.company_id, period=period, now=now)
    except reports.BadPeriod:
        raise PeriodRefused(BAD_PERIOD, days=reports.MAX_PERIOD_DAYS) from None
    except reports.TooManyRequests:
        raise PeriodRefused(TOO_MANY, count=reports.MAX_REQUESTS) from None


@router.get("/reports")
def reports_page(request: Request, login: AdminLoginDep, session: ReadDB, first: FromDate = None,
                 last: ToDate = None) -> Response:
    """Requests, time to first join, time to close and expired share per group and per supporter."""
    try:
        report = _report(session, login, first, last)
    except PeriodRefused as refused:
        return _page(request, login, status=400, report=None, chart=[], refused=refused,
                     period={"from": first or "", "to": last or ""})
    return _page(request, login, report=report, chart=chart_bars(report.groups), refused=None,
                 period={"from": report.period.first.isoformat(), "to": report.period.last.isoformat()})


def _page(request: Request, login: Login, *, status: int = 200, **context) -> Response:
    return render(request, "reports.html", login=login, status=status, duration=duration_text, share=share_text,
                  **context)


@router.get("/reports.csv")
def reports_csv(login: AdminLoginDep, session: ReadDB, first: FromDate = None, last: ToDate = None) -> Response:
    """The page's figures as CSV: one row for all requests, then one per group and one per supporter."""
    try:
        report = _report(session, login, first, last)
    except PeriodRefused as refused:
        raise WebError(400, refused.message, **refused.values) from None
    name = f"sosqueue-report-{report.period.first.isoformat()}-to-{report.period.last.isoformat()}.csv"
    return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def report_csv(report: reports.Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows = [("total", report.total), *(("group", row) for row in report.groups),
            *(("supporter", row) for row in report.supporters)]
    for scope, figures in rows:
        writer.writerow([guarded(cell) for cell in _csv_cells(scope, figures)])
    return out.getvalue()


def _csv_cells(scope: str, figures: reports.Figures) -> list[str]:
    seconds = (figures.first_join_median, figures.first_join_p90, figures.close_median, figures.close_p90)
    share = "" if figures.expired_share is None else f"{figures.expired_share:.4f}"
    return [scope, figures.name, str(figures.requests), *(_number(value) for value in seconds), share]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def guarded(cell: str) -> str:
    """The cell, with a leading ' when a spreadsheet would otherwise run it as a formula."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


# -- presentation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One group's row of the chart: median and p90 time to first join, as widths in SVG units."""

    figures: reports.Figures
    median_width: float
    p90_width: float


def chart_bars(groups: list[reports.Figures]) -> list[Bar]:
    """Bars scaled to the longest p90; groups without a first join get none."""
    joined = [row for row in groups if row.first_join_p90 is not None]
    longest = max((row.first_join_p90 for row in joined), default=0) or 1
    return [Bar(figures=row, median_width=round(row.first_join_median / longest * CHART_WIDTH, 1),
                p90_width=round(row.first_join_p90 / longest * CHART_WIDTH, 1)) for row in joined]


def duration_text(seconds: float | None) -> str:
    """``h:mm:ss`` (hours may pass 24), or a dash without a value."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def share_text(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f} %"
