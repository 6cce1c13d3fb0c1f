"""Pages of long lists whose total is counted only as far as a page needs.

An exact count reads every row the list holds: at 100,000 patients the patient list's count cost
more than its page. ``CountingPaginator`` counts up to ``count_limit`` (or to the end of the page
asked for, if later) and one more row: exact for any list below the limit, "more than N" above
it, and its cost stops growing with the program. ``count_exact`` says which; asking for the last
page counts exactly, since its number is the total.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

# A total past this is shown as "more than 10,000": a program's list is rarely that long.
COUNT_LIMIT = 10_000


class CountingPaginator(Paginator):
    """A ``Paginator`` whose ``count`` stops after ``count_limit`` rows (``count_exact`` False).

    ``asked``: the page number the request asks for, so that a page past the limit is still
    found (the count then reaches its end); ``"last"`` (or ``count_limit=None``) counts every row.
    """

    count_limit: int | None = COUNT_LIMIT

    def __init__(self, object_list, per_page, *, asked=None, **kwargs):
        limit = kwargs.pop("count_limit", self.count_limit)
        super().__init__(object_list, per_page, **kwargs)
        self.count_limit = None if str(asked) == "last" else limit
        if self.count_limit is not None and str(asked or "").isdigit():
            self.count_limit = max(self.count_limit, int(asked) * int(per_page))

    @cached_property
    def count(self) -> int:
        if self.count_limit is None:
            return super().count
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list[: self.count_limit + 1])
        # Only the primary keys, in any order: the page's columns and order cost the count nothing.
        return self.object_list.order_by().values("pk")[: self.count_limit + 1].count()

    @property
    def count_exact(self) -> bool:
        return self.count_limit is None or self.count <= self.count_limit
