"""The visits calendar: a user's secret subscription link (create, replace, revoke) and the
iCalendar feed (RFC 5545) it serves to Outlook or Google Calendar, which cannot log in."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from audit.log import record_download
from audit.models import PatientAccess
from registry import services
from registry.models import CalendarFeed
from registry.roles import is_clinical, patient_site_ids, sites_for
from registry.selectors.visits import booked_visits

# What a subscription shows: the last month (a visit just missed) and the coming year.
PAST_DAYS, AHEAD_DAYS = 30, 365
VISIT_LENGTH = dt.timedelta(minutes=30)


@login_required
def calendar_settings(request):
    """GET: the user's link state; POST ``issue`` makes a new link (the old one stops), ``revoke``
    deletes it. The secret is shown once, right after it is made."""
    if not is_clinical(request.user):
        return render(request, "dashboard/no_access.html", status=403)
    token = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            if services.revoke_calendar_feed(user=request.user):
                messages.success(request, "Calendar link revoked: calendars subscribed to it get nothing more.")
            return redirect("calendar_settings")
        token = services.issue_calendar_feed(user=request.user)
        messages.success(request, "New calendar link made. Copy it now: it is shown only once.")
    feed = CalendarFeed.objects.filter(user=request.user).first()
    links = []
    if token:
        base = request.build_absolute_uri(reverse("calendar_feed", args=[token]))
        links = [("All my clinics", base)] + [(s.name, f"{base}?site={s.pk}") for s in sites_for(request.user)]
    return render(request, "dashboard/calendar.html", {"feed": feed, "links": links})


def _event(visit, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", f"{visit.uid}@itb-registry")
    event.add("dtstamp", stamp)
    if visit.starts_at is not None:
        # In UTC ("Z"): every calendar program reads it the same, with no VTIMEZONE to interpret.
        start = visit.starts_at.astimezone(dt.UTC)
        event.add("dtstart", start)
        event.add("dtend", start + VISIT_LENGTH)
    else:
        event.add("dtstart", visit.day)
        event.add("dtend", visit.day + dt.timedelta(days=1))
    # Initials and MRN only: a calendar is shared, synced and shown on lock screens.
    event.add("summary", f"{visit.kind}: {visit.initials} (MRN {visit.mrn})")
    event.add("location", visit.clinic)
    event.add("url", f"{settings.SITE_URL}/patients/{visit.patient_id}/")
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


@login_not_required  # a calendar program cannot log in: the secret in the URL is the credential
@require_GET
def calendar_feed(request, token: str):
    """The booked refill visits and follow-ups of the link owner's clinics (``?site=`` for one)."""
    user = services.calendar_feed_user(token)
    if user is None or not is_clinical(user):
        raise Http404("No such calendar.")
    site_ids = patient_site_ids(user)
    wanted = request.GET.get("site")
    if wanted:
        if not wanted.isdigit() or (site_ids is not None and int(wanted) not in site_ids):
            raise Http404("No such calendar.")
        site_ids = [int(wanted)]
    today = timezone.now().date()
    start, end = today - dt.timedelta(days=PAST_DAYS), today + dt.timedelta(days=AHEAD_DAYS)
    visits = booked_visits(site_ids, start=start, end=end)
    calendar = Calendar()
    calendar.add("prodid", "-//ITB registry//Booked visits//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "ITB visits")
    calendar.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    stamp = timezone.now().replace(microsecond=0)
    for visit in visits:
        calendar.add_component(_event(visit, stamp))
    # Each fetch is a copy of these patients' initials and MRNs in someone's calendar; never the secret.
    path = reverse("calendar_feed", args=["secret"]) + (f"?site={wanted}" if wanted else "")
    patients = list(dict.fromkeys(v.patient_id for v in visits))
    record_download(request, patients, PatientAccess.Channel.CALENDAR, user=user, path=path)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="itb-visits.ics"'
    response["Cache-Control"] = "private, no-store"
    return response
