"""The worklist: everything critical, overdue, due or coming up, in sections, and its printout."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from html import escape

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from api.caching import cached_page, keep_page, kept_page, page_key
from audit.log import record_download
from audit.models import PatientAccess
from dashboard import forms, page_shell
from dashboard.context_processors import TEMPLATE_ENUMS
from dashboard.views.shared import STATUS_LABELS
from registry import scheduling, selectors
from registry.models import Patient, WorkStatus
from registry.roles import is_clinical, patient_site_ids
from registry.selectors import WorkKind
from registry.services.reminders.inbox import open_reminder_count

WORKLIST_DAYS = 30
# At most this many rows on the page, most urgent first (filters narrow the list).
WORKLIST_ROWS = 200
# The page says "of more than 1,000 items" rather than counting tens of thousands.
WORKLIST_COUNT_LIMIT = 1000
# Each row of the sections names its patient: a printout logs exactly the patients it shows.
_ROW_PATIENT = re.compile(r'data-patient="(\d+)"')
SECTION_TITLES = {
    (WorkKind.REFILL, WorkStatus.CRITICAL): "Critical: past the low-reservoir alarm date",
    (WorkKind.REFILL, WorkStatus.NEEDS_ATTENTION): "Needs attention: no refill date could be projected",
    (WorkKind.REFILL, WorkStatus.NO_SHOW): "Did not come to a booked refill visit",
    (WorkKind.REFILL, WorkStatus.OVERDUE): "Refill overdue",
    (WorkKind.BATTERY, WorkStatus.OVERDUE): "Battery past its ERI date",
    (WorkKind.REFILL, WorkStatus.DUE): "Refill due within the reminder window",
    (WorkKind.FOLLOW_UP, WorkStatus.MISSED): "Follow-ups missed",
    (WorkKind.BATTERY, WorkStatus.DUE): "Battery / ERI approaching",
    (WorkKind.FOLLOW_UP, WorkStatus.DUE): "Follow-ups due",
    (WorkKind.REFILL, WorkStatus.UPCOMING): f"Refills upcoming in the next {WORKLIST_DAYS} days",
}


@login_required
def worklist(request):
    """Today: everything critical, overdue, due or coming up, in sections, most urgent first.

    The page's body (the day, the filter form as the URL fills it, the sections) is the same for
    everyone with these sites until the next write, and is cached under the data version
    (``api/caching.py``): a hit is one cache read. The key names each site's day, so the page
    turns over at midnight in the user's zone too (a booking becomes a no-show with no write).
    The whole page is kept too, per user (``page_shell``): a hit puts the CSRF token and the open
    reminders back in, and renders nothing.
    """
    user = request.user
    if not is_clinical(user):
        return render(request, "dashboard/no_access.html", status=403)
    if request.resolver_match.url_name == "worklist" and not request.htmx and not page_shell.has_messages(request):
        return _whole_page(request)
    body = _cached_body(request)
    context = _page_context(body)
    if request.htmx:
        return HttpResponse(context["sections"])
    if request.resolver_match.url_name == "worklist_print":
        zone = zoneinfo.ZoneInfo(body["zone"])
        printed = list(dict.fromkeys(int(pk) for pk in _ROW_PATIENT.findall(body["sections"])))
        record_download(request, printed, PatientAccess.Channel.PRINT)
        context.update(
            printed_at=timezone.now().astimezone(zone), zone=body["zone"], filters=_filter_labels(_filter_form(request))
        )
        return render(request, "dashboard/worklist_print.html", context)
    return render(request, "dashboard/worklist.html", context)


def _whole_page(request) -> HttpResponse:
    """The page from its kept shell, or rendered (with marks for its live parts) and kept."""
    count = open_reminder_count(request.user)
    key = page_key(request, "worklist-page", by_user=True)
    shell = kept_page(key)
    if shell is None:
        context = {**_page_context(_cached_body(request)), **page_shell.marked_context(count)}
        html = render_to_string("dashboard/worklist.html", context, request)
        shell = page_shell.shell_of(html, count)
        if shell is None:
            return HttpResponse(page_shell.filled(request, html, count))
        keep_page(key, shell)
    return HttpResponse(page_shell.filled(request, shell, count))


def _cached_body(request) -> dict:
    return cached_page(request, "worklist-body", lambda: _worklist_body(request))


def _page_context(body: dict) -> dict:
    """The page's context from its cached body (HTML the page's own templates rendered on a miss)."""
    return {
        "filters": mark_safe(body["filters"]),  # noqa: S308 - rendered by our template
        "sections": mark_safe(body["sections"]),  # noqa: S308 - rendered by our template
        "today": dt.date.fromisoformat(body["today"]),
    }


def _filter_form(request) -> forms.WorklistFilterForm:
    """The filter form bound to the URL, with the user's sites and clinicians (cached: they change
    with the data version only)."""
    user = request.user
    choices = cached_page(request, "worklist-filter-choices", lambda: forms.worklist_filter_choices(user), by_url=False)
    form = forms.WorklistFilterForm(request.GET or None, sites=choices["sites"], clinicians=choices["clinicians"])
    form.zone = choices.get("zone", "UTC")
    return form


def _worklist_body(request) -> dict:
    """What the cache keeps of the page: the day in the user's zone, the filter fields as the URL
    fills them and the sections, rendered."""
    form = _filter_form(request)
    today = scheduling.today_in(zoneinfo.ZoneInfo(form.zone), timezone.now())
    return {
        "today": today.isoformat(),
        "zone": form.zone,
        "filters": render_to_string("dashboard/partials/worklist_filters.html", {"form": form}),
        "sections": _worklist_sections(request.user, form, today),
    }


def _filter_labels(form: forms.WorklistFilterForm) -> list[tuple[str, str]]:
    """The filters the printout was made with, in words."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    out = []
    for name in ("site", "kind", "clinician"):
        field = form.fields[name]
        chosen = data.get(name)
        labels = {str(value): label for value, label in field.choices}
        out.append((str(field.label or name.capitalize()), labels.get(str(chosen or ""), labels.get(""))))
    return out


def _worklist_sections(user, form: forms.WorklistFilterForm, today: dt.date) -> str:
    """The rendered sections of the worklist for ``user``'s sites and the form's filters."""
    kinds = selectors.WORK_KINDS
    sites = patient_site_ids(user)  # the user's sites as a list, so the planner uses the site indexes
    narrowed = None
    if form.is_valid():
        data = form.cleaned_data
        if data["site"]:
            sites = [data["site"]]
        if data["clinician"]:
            narrowed = Patient.objects.filter(primary_clinician_id=data["clinician"])
        if data["kind"]:
            kinds = (data["kind"],)
    # The most urgent rows only, ranked and cut in SQL: program-wide the worklist holds tens of
    # thousands of items at 100,000 patients, and rendering them all took seconds.
    page = selectors.worklist_page(
        start=today,
        end=today + dt.timedelta(days=WORKLIST_DAYS),
        patients=narrowed,
        kinds=kinds,
        limit=WORKLIST_ROWS,
        count_limit=WORKLIST_COUNT_LIMIT,
        sites=sites,
    )
    items = page.items
    urls = _RowUrls()
    sections = []
    for key in selectors.WORK_URGENCY:
        title = SECTION_TITLES[key]
        rows = [i for i in items if (i.kind, i.status) == key]
        if rows:
            html = mark_safe("".join(_row(item, urls) for item in rows))  # noqa: S308 - each value escaped in _row
            sections.append(
                {
                    "key": f"{key[0]}-{key[1]}",
                    "kind": key[0],
                    "status": key[1],
                    "title": title,
                    "rows": rows,
                    "html": html,
                }
            )
    context = {
        "form": form,
        "sections": sections,
        "total": page.total,
        "count_limit": WORKLIST_COUNT_LIMIT,
        "shown": len(items),
        "status_labels": STATUS_LABELS,
        **TEMPLATE_ENUMS,  # rendered without a request: no context processor runs
    }
    return render_to_string("dashboard/partials/worklist_sections.html", context)


# --- The rows ------------------------------------------------------------------------------------
# Built in Python, not in the template: two hundred rows of a dozen tags each through the template
# engine (and five URL reversals per row) cost most of the page.


class _RowUrls:
    """The rows' links, each reversed once per page with stand-in ids and filled in per row."""

    _ONE, _TWO = 9_876_543_210, 9_876_543_211

    def __init__(self):
        def pattern(name: str, *args: int) -> str:
            return reverse(name, args=args).replace(str(self._ONE), "{0}").replace(str(self._TWO), "{1}")

        self.patient = pattern("patient", self._ONE)
        self.move = pattern("refill_visit_move", self._ONE, self._TWO) + "?next=/"
        self.book = pattern("refill_visit_book", self._ONE) + "?next=/"
        self.contact = pattern("contact_create", self._ONE) + "?next=/"
        self.refill = pattern("refill_create", self._ONE)
        self.reschedule = pattern("follow_up_reschedule", self._ONE, self._TWO) + "?next=/"


def _row(item, urls: _RowUrls) -> str:
    """One row of a worklist section, every value escaped (``html.escape``, as the template's)."""
    p = item.patient
    name = escape(f"{p.family_name}, {p.given_name}")
    booking = item.booking if item.kind == WorkKind.REFILL else None
    dob = p.date_of_birth
    clinician = p.primary_clinician
    status, label = escape(item.status), escape(STATUS_LABELS.get(item.status, item.status))
    contact = escape(item.last_contact)
    contact = f'<br><span class="last-contact">Last contact {contact}</span>' if contact else ""
    who = escape((clinician.get_full_name() or clinician.username) if clinician else "—")
    return (
        f'\n      <tr class="row-{status}" data-patient="{p.pk}">\n'
        f'        <td><span class="status status-{status}">{label}</span></td>\n'
        f'        <td><a href="{urls.patient.format(p.pk)}">{name}</a> <span class="mrn">{escape(p.mrn)}</span> '
        f'<span class="dob">born {f"{dob.day} {dob:%b %Y}" if dob else ""}</span></td>\n'
        f"        <td>{escape(item.reason)}</td>\n"
        f'        <td><time datetime="{item.due_date.isoformat()}">{escape(item.due_label)}</time></td>\n'
        f'        <td class="visit">{_visit(item, booking)}{contact}</td>\n'
        f"        <td>{escape(p.site.name)}</td>\n"
        f"        <td>{who}</td>\n"
        f'        <td class="row-actions">{_actions(item, booking, name, urls)}</td>\n'
        "      </tr>\n    "
    )


def _visit(item, booking: dict | None) -> str:
    """The refill visit column: booked when and where, or not."""
    if item.kind != WorkKind.REFILL:
        return "—"
    if item.status == WorkStatus.NO_SHOW:
        return '<span class="flag">Did not attend</span>'
    if booking is None:
        return '<span class="not-booked">Not booked</span>'
    clinic = f", {escape(booking['clinic'])}" if booking["clinic"] != item.patient.site.name else ""
    if booking["after_alarm"]:
        flag = ' <span class="flag">on or after the alarm date</span>'
    elif booking["after_due"]:
        flag = ' <span class="flag">after the due date</span>'
    else:
        flag = ""
    return f'<span class="booked">Booked {escape(booking["label"])}</span>{clinic}{flag}'


def _actions(item, booking: dict | None, name: str, urls: _RowUrls) -> str:
    """The row's links: book or move the visit, log a call, record the refill; or reschedule.
    ``name`` is escaped already."""
    pk = item.patient.pk
    if item.kind == WorkKind.FOLLOW_UP:
        url = urls.reschedule.format(pk, item.target_id)
        return f'<a href="{url}">Reschedule<span class="visually-hidden"> {name}</span></a>'
    if item.kind != WorkKind.REFILL:
        return ""
    if booking and item.status != WorkStatus.NO_SHOW:
        url = urls.move.format(pk, booking["id"])
        visit = f'<a href="{url}">Move visit<span class="visually-hidden"> of {name}</span></a>'
    elif booking:
        url = urls.move.format(pk, booking["id"])
        visit = f'<a href="{url}">Rebook<span class="visually-hidden"> {name}</span></a>'
    else:
        visit = f'<a href="{urls.book.format(pk)}">Book visit<span class="visually-hidden"> for {name}</span></a>'
    return (
        f'{visit} <a href="{urls.contact.format(pk)}">Log call<span class="visually-hidden"> with {name}</span></a> '
        f'<a href="{urls.refill.format(pk)}">Record refill<span class="visually-hidden"> of {name}</span></a>'
    )
