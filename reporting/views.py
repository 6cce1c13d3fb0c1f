"""The reports page (``/reports/``), its PDF and its CSV downloads.

Open to the reporting role, administrators and the clinical staff of their own sites; every figure
is an aggregate from ``reporting.reports`` and the exports are de-identified and k-anonymous (a zip
with the rows, a data dictionary and the k achieved), so nothing here shows a name, MRN, contact
or date of birth. Anyone else gets 403.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from reporting import charts, display, pdf, rates, reports
from reporting.display import label
from reporting.exports import EXPORTS, csv_response, may_see_reports, research_export, zip_response
from reporting.forms import ReportParamsForm


def _params(request) -> ReportParamsForm:
    if not may_see_reports(request.user):
        raise PermissionDenied("Reports are for program reporting, administrators and clinical staff.")
    return ReportParamsForm(request.GET, user=request.user)


def _charts(report: dict) -> list:
    census, safety, goals, refills = report["census"], report["safety"], report["goals"], report["refills"]
    return [
        charts.bar_chart(
            f"Patients by status on {census['as_of']}", [(label(k), v) for k, v in census["by_status"].items() if v]
        ),
        charts.bar_chart(
            "Patients by primary indication", [(label(r["indication"]), r["patients"]) for r in census["by_indication"]]
        ),
        charts.bar_chart(
            "Refills by timeliness",
            [
                ("First fill", refills["first"]),
                ("On time", refills["on_time"]),
                ("Late", refills["late"]),
                ("After the alarm date", refills["after_alarm"]),
            ],
        ),
        charts.bar_chart(
            "Complications per 100 pump-years",
            [(label(r["kind"]), r["per_100_pump_years"]) for r in safety["by_kind"] if r["count"]],
        ),
        *_funnels(report),
        charts.bar_chart(
            "Goals at or above the expected level (%)",
            [
                (
                    label(r["category"]),
                    None if r["share_at_or_above_expected"] is None else round(100 * r["share_at_or_above_expected"]),
                )
                for r in goals["by_category"]
            ],
            maximum=100,
        ),
        charts.bar_chart(
            "Implants, replacements and explants by year",
            [
                (f"{r['year']} {kind}", r[kind])
                for r in report["activity"]["by_year"]
                for kind in ("implants", "replacements", "explants")
            ],
        ),
    ]


FUNNEL_LEVELS = [("95%", 0.95), ("99.8%", 0.998)]


def _funnels(report: dict) -> list:
    """The funnel plots: each site's complication rate and late-refill share against its size."""
    sites, safety, refills = report["by_site"], report["safety"], report["refills"]
    rate = safety["complications_per_100_pump_years"]
    biggest = max((s["pump_years"] for s in sites), default=0)
    complications = charts.funnel_plot(
        "Complications per 100 pump-years by site (funnel plot)",
        [charts.FunnelPoint(s["site"], s["pump_years"], s["per_100_pump_years"]) for s in sites if s["pump_years"]],
        target=rate,
        limits=[(name, rates.funnel_curve(rate or 0, level, biggest * 1.1)) for name, level in FUNNEL_LEVELS],
        x_label="pump-years",
        y_label="per 100 pump-years",
    )
    share = refills["late_share"]
    cycles = max((s["refills_closed"] for s in sites), default=0)
    steps = [cycles * 1.1 * i / 40 for i in range(1, 41)]
    late = charts.funnel_plot(
        "Late refills by site (% of closed cycles, funnel plot)",
        [
            charts.FunnelPoint(s["site"], s["refills_closed"], _percent(s["late_share"]))
            for s in sites
            if s["refills_closed"]
        ],
        target=_percent(share),
        limits=[
            (name, [(n, *map(_percent, rates.proportion_limits(share or 0, max(round(n), 1), level))) for n in steps])
            for name, level in FUNNEL_LEVELS
        ],
        x_label="closed refill cycles",
        y_label="% late",
    )
    return [complications, late]


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 1)


def _figures(form: ReportParamsForm) -> dict:
    """What the page and the PDF show for a valid form: the report, its charts and its tables in words."""
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    report = reports.summary(sites=form.scope(), start=start, end=end)
    query = form.query_string()
    tables = []
    for name, title in reports.TABLES.items():
        header, rows = reports.table(report, name)
        url = reverse("report_table_csv", args=[name]) + "?" + query
        tables.append(
            {
                "name": name,
                "title": title,
                "header": [display.heading(h) for h in header],
                "rows": display.shown_rows(name, header, rows),
                "csv_url": url,
            }
        )
    return {
        "report": report,
        "tables": tables,
        "charts": _charts(report),
        "headline": display.headline(report),
        "definitions": display.definitions_html(),
        "annual": start.month == start.day == 1 and (end.month, end.day) == (12, 31) and start.year == end.year,
    }


@login_required
def reports_page(request):
    form = _params(request)
    if not form.is_valid():
        return render(request, "reporting/summary.html", {"form": form}, status=400)
    query = form.query_string()
    exports = [(title, reverse("report_export_zip", args=[kind]) + "?" + query) for kind, title in EXPORTS.items()]
    pdf_url = reverse("report_pdf") + "?" + query
    context = {"form": form, "exports": exports, "pdf_url": pdf_url, **_figures(form)}
    return render(request, "reporting/summary.html", context)


@login_required
def report_pdf(request):
    """The program report as an A4 PDF: the page's figures, charts and definitions, with a header."""
    form = _params(request)
    if not form.is_valid():
        return _invalid(form)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    context = {**_figures(form), "generated": timezone.localtime(), "for_pdf": True}
    html = render_to_string("reporting/report_pdf.html", context, request=request)
    response = HttpResponse(pdf.render(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="itb-report-{start:%Y%m%d}-{end:%Y%m%d}.pdf"'
    return response


def _invalid(form) -> HttpResponse:
    return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")


@login_required
def report_table_csv(request, name: str):
    if name not in reports.TABLES:
        raise Http404("No such report table.")
    form = _params(request)
    if not form.is_valid():
        return _invalid(form)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    header, rows = reports.table(reports.summary(sites=form.scope(), start=start, end=end), name)
    return csv_response(header, rows, f"itb-{name}-{start:%Y%m%d}-{end:%Y%m%d}.csv")


@login_required
def report_export_zip(request, kind: str):
    if kind not in EXPORTS:
        raise Http404("No such export.")
    form = _params(request)
    if not form.is_valid():
        return _invalid(form)
    return zip_response(request, research_export(kind, form))
