"""Two-factor pages: set up an authenticator app (QR code, then recovery codes), and verify a log-in."""

from __future__ import annotations

import base64

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import two_factor


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6 digits your authenticator app shows now, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@login_required
def verify(request):
    """The second step of a log-in: a code from the authenticator app or a recovery code."""
    if two_factor.confirmed_authenticator(request.user) is None:
        return redirect(f"{_setup_url()}?next={_next_url(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.verify_code(request.user, form.cleaned_data["code"])
        if device is not None:
            two_factor.mark_verified(request, device)
            return redirect(_next_url(request))
        form.add_error("code", "That code is not right, or it was used already. Try the next code your app shows.")
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)})


@login_required
def setup(request):
    """Set up (or replace) the authenticator app; a user who has one must verify first."""
    if two_factor.confirmed_authenticator(request.user) and not two_factor.session_is_verified(request):
        return redirect(f"{_verify_url()}?next={request.path}")
    device = two_factor.pending_authenticator(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = two_factor.confirm_authenticator(request.user, device, form.cleaned_data["code"])
        if codes is not None:
            two_factor.mark_verified(request, device)
            messages.success(request, "Two-factor authentication is on for your account.")
            return render(request, "accounts/two_factor_codes.html", {"codes": codes, "next": _next_url(request)})
        form.add_error("code", "That code is not right. Scan the QR code again and give the code the app shows now.")
    context = {
        "form": form,
        "qr": segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2),
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        "next": _next_url(request),
    }
    return render(request, "accounts/two_factor_setup.html", context)


def _setup_url() -> str:
    return reverse("two_factor_setup")


def _verify_url() -> str:
    return reverse("two_factor_verify")
