"""The parameters of every report (page, API, CSV): which sites and which period.

One form shared by the reports page and the reports API so both validate the same way: a site
the user does not report on is an error (never a silent widening), dates are ISO dates within
1900-2200, and ``start`` may not be after ``end``. Without dates the period is this calendar year
to date; without a site, every site the user may see. ``k`` (research exports only) may raise the
registry's minimum k (``RESEARCH_EXPORT_K``), never lower it.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db.models import QuerySet
from django.utils import timezone

from registry.models import Site
from registry.roles import Role, role_of, sites_for

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 12, 31)


class SiteIdsField(forms.ModelMultipleChoiceField):
    """Site ids; anything but whole numbers in range is refused before it reaches a query."""

    def clean(self, value):
        for item in value or []:
            if not str(item).isdigit() or int(item) > 2**62:
                raise forms.ValidationError("Give site ids as whole numbers.", code="invalid_pk_value")
        return super().clean(value)


def _date_field(label: str, help_text: str) -> forms.DateField:
    """An ISO date, picked in the browser's date input on the page."""
    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    return forms.DateField(required=False, label=label, input_formats=["%Y-%m-%d"], widget=widget, help_text=help_text)


class ReportParamsForm(forms.Form):
    site = SiteIdsField(
        queryset=Site.objects.none(),
        required=False,
        label="Sites",
        widget=forms.CheckboxSelectMultiple,
        help_text="Site id; repeat for several. Default: all yours.",
    )
    start = _date_field("From", "First day (YYYY-MM-DD).")
    end = _date_field("To", "Last day, included (YYYY-MM-DD).")
    k = forms.IntegerField(
        required=False,
        max_value=1000,
        help_text="Research exports: each combination of quasi-identifiers is shared by at least k patients.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["site"].queryset = sites_for(user)
        least = settings.RESEARCH_EXPORT_K
        self.fields["k"].validators.append(
            MinValueValidator(least, f"k cannot be below {least}, this registry's minimum.")
        )

    def clean(self):
        data = super().clean()
        today = timezone.now().date()
        start = data.get("start") or dt.date(today.year, 1, 1)
        end = data.get("end") or today
        for name, day in (("start", start), ("end", end)):
            if not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Give a date between {EARLIEST} and {LATEST}.")
        if start > end:
            self.add_error("end", "The end cannot be before the start.")
        data["start"], data["end"] = start, end
        data["k"] = data.get("k") or settings.RESEARCH_EXPORT_K
        return data

    def scope(self) -> QuerySet[Site] | None:
        """The sites to report on: None means every site (an administrator asking for all)."""
        chosen = self.cleaned_data.get("site")
        if chosen:
            return Site.objects.filter(pk__in=[s.pk for s in chosen])
        if role_of(self.user) == Role.ADMINISTRATOR:
            return None
        return sites_for(self.user)

    def query_string(self) -> str:
        parts = [f"site={s.pk}" for s in self.cleaned_data.get("site") or []]
        parts += [f"start={self.cleaned_data['start']:%Y-%m-%d}", f"end={self.cleaned_data['end']:%Y-%m-%d}"]
        if self.cleaned_data.get("k") != settings.RESEARCH_EXPORT_K:
            parts.append(f"k={self.cleaned_data['k']}")
        return "&".join(parts)
