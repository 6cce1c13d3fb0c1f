from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from registry.selectors import refill_worklist


@login_required
def home(request):
    end = timezone.now().date() + timezone.timedelta(days=30)
    rows = refill_worklist(end=end)[:200]
    return render(request, "registry/home.html", {"rows": rows})
