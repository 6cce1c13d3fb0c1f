"""``worklist/``: what is due, overdue, critical or missed, most urgent first."""

from __future__ import annotations

from django.core.paginator import Paginator
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from api import serializers
from api.caching import cached_json_response, request_sites_today
from api.permissions import HasStaffRole, IsClinicalStaff
from api.views.base import RegistryPagination
from registry.roles import patient_site_ids
from registry.selectors import WORK_KINDS, worklist_page

# A page's total counts no further than this many items (or the end of the page asked for, if
# later) and one more: enough to say "more than 1,000" and whether a next page exists.
COUNT_LIMIT = 1000


class _PagedWorklist:
    """The worklist as a sequence Django's paginator can count and slice, one SQL page at a time.

    ``registry.selectors.worklist_page`` ranks and cuts the items in SQL, so a page of 50 costs
    the same at 100,000 patients as at 100. ``count_exact`` is False when the count stopped at
    its limit (there are at least ``count()`` items).
    """

    def __init__(self, *, expected: slice | None = None, **query):
        self.query = query
        self.expected, self._page = expected, None
        self.count_exact = True

    def count(self) -> int:
        if self.expected is None:
            # Any page, even the last one by name: the exact total.
            return worklist_page(**self.query, offset=0, limit=0).total
        # The page the request asks for, with the total, in one pass: the paginator counts, then
        # slices this very window (one site look-up and one plan instead of two).
        start, stop = self.expected.start, self.expected.stop
        limit = max(COUNT_LIMIT, stop)
        self._page = worklist_page(**self.query, offset=start, limit=stop - start, count_limit=limit)
        self.count_exact = self._page.total <= limit
        return self._page.total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice):
        start = window.start or 0
        if self._page is not None and (start, window.stop) == (self.expected.start, self.expected.stop):
            return self._page.items
        # The paginator has counted already: fetch only the page (one full ranking, not two).
        return worklist_page(**self.query, offset=start, limit=window.stop - start, count=False).items


class WorklistPagination(RegistryPagination):
    """Pages of the worklist, which counts as far as its page needs by itself (``_PagedWorklist``)."""

    count_limit = COUNT_LIMIT

    def paginator_for(self, asked):
        return Paginator  # the sequence counts as far as its page needs by itself

    def count_exact(self) -> bool:
        return self.page.paginator.object_list.count_exact


@extend_schema(
    parameters=[serializers.WorklistQuerySerializer],
    responses={200: serializers.WorkItemSerializer(many=True)},
    summary="Everything due, overdue or critical in the window, most urgent first.",
)
class WorklistView(GenericAPIView):
    """The dashboard's worklist (``registry.selectors.worklist``) for the user's patients.

    Critical, overdue and missed items are listed whatever ``start`` says (nobody past a date
    falls out of a window). Paginated like every list.
    """

    permission_classes = [IsAuthenticated, HasStaffRole, IsClinicalStaff]
    serializer_class = serializers.WorkItemSerializer
    pagination_class = WorklistPagination
    filter_backends = []

    def get(self, request):
        query = serializers.WorklistQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        kinds = tuple(sorted(params["kind"])) if params.get("kind") else WORK_KINDS

        def compute():
            sites = patient_site_ids(request.user)  # None: every site
            if "site" in params:
                sites = [params["site"]] if sites is None or params["site"] in sites else []
            query = {
                "start": params["start"],
                "end": params["end"],
                "sites": sites,
                "kinds": kinds,
                "site_rows": request_sites_today(request),
            }
            items = _PagedWorklist(**query, expected=self.expected_window())
            page = self.paginate_queryset(items)
            return self.get_paginated_response(self.get_serializer(page, many=True).data).data

        return cached_json_response(request, "worklist", compute)

    def expected_window(self) -> slice | None:
        """The rows the requested page number covers, if it is a plain number (else: ask the paginator)."""
        size = self.paginator.get_page_size(self.request)
        number = self.request.query_params.get(self.paginator.page_query_param, "1")
        if not size or not number.isdigit() or int(number) < 1:
            return None
        return slice((int(number) - 1) * size, int(number) * size)
