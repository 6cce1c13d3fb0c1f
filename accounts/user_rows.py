"""A request's user with their staff profile and the data version, read in one statement.

Every request reads its user first (a session's, or an API token's) and asks the role next; a
cached page then needs the data version. One statement built once per process reads all three:
the ORM took longer to build its two queries than the database to run them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from registry.models import StaffProfile
from registry.selectors import rows as sql_rows
from registry.selectors.data_version import version_columns, version_of


def select_list() -> str:
    """The user's, the profile's and the data version's columns (tables ``u`` and ``s``)."""
    return f"{sql_rows.columns(get_user_model(), 'u')}, {sql_rows.columns(StaffProfile, 's')}, {version_columns()}"


def profile_join() -> str:
    """The staff profile of user ``u`` (none for a superuser made without one)."""
    return f"LEFT JOIN {StaffProfile._meta.db_table} s ON s.user_id = u.id"


def user_from(values):
    """The user from ``select_list``'s values, with ``user.staff`` set (even to None, so the role
    asks nothing more) and ``user.data_version``."""
    user_model = get_user_model()
    n, m = sql_rows.width(user_model), sql_rows.width(user_model) + sql_rows.width(StaffProfile)
    user = sql_rows.instance(user_model, values[:n])
    profile = sql_rows.instance(StaffProfile, values[n:m]) if values[n] is not None else None
    user.data_version = version_of(values[m:])
    StaffProfile.user.field.remote_field.set_cached_value(user, profile)
    if profile is not None:
        StaffProfile.user.field.set_cached_value(profile, user)
    return user
