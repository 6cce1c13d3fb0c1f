"""Field declarations that several models share."""

from django.db import models


def fact_key(to, **options) -> models.ForeignKey:
    """A reference that database triggers keep as a stored fact for the report: no constraint
    (the triggers keep it right, and bulk loads need no check), no index of its own, no reverse
    accessor."""
    return models.ForeignKey(
        to, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+", **options
    )
