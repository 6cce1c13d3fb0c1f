"""A request's user with their staff profile, their sites and the data version, read in one statement.

Every request reads its user first (a session's, or an API token's) and asks the role next; a
cached page then needs the user's sites and the data version. One statement built once per process
reads them all: the ORM took longer to build its queries than the database to run them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection

from registry.models import StaffProfile
from registry.selectors import rows as sql_rows
from registry.selectors.data_version import version_columns, version_of


def select_list() -> str:
    """The user's, the profile's, the profile's site ids and the data version's columns (tables
    ``u`` and ``s``)."""
    user, profile = sql_rows.columns(get_user_model(), "u"), sql_rows.columns(StaffProfile, "s")
    return f"{user}, {profile}, {_site_ids_column()}, {version_columns()}"


def _site_ids_column() -> str:
    """The profile's site ids: an array on PostgreSQL, a comma-separated text on SQLite."""
    field = StaffProfile.sites.field
    table, profile_id, site_id = field.m2m_db_table(), field.m2m_column_name(), field.m2m_reverse_name()
    ids = f"SELECT {site_id} FROM {table} WHERE {profile_id} = s.id"  # noqa: S608 - built from the model
    if connection.vendor == "postgresql":
        return f"ARRAY({ids})"
    return f"(SELECT group_concat({site_id}) FROM ({ids}))"  # noqa: S608 - built from the model


def profile_join() -> str:
    """The staff profile of user ``u`` (none for a superuser made without one)."""
    return f"LEFT JOIN {StaffProfile._meta.db_table} s ON s.user_id = u.id"


def user_from(values):
    """The user from ``select_list``'s values, with ``user.staff`` set (even to None, so the role
    asks nothing more), ``user.site_ids`` (the profile's sites, as ``sites_for`` reads them for a
    user who is not an administrator) and ``user.data_version``."""
    user_model = get_user_model()
    n, m = sql_rows.width(user_model), sql_rows.width(user_model) + sql_rows.width(StaffProfile)
    user = sql_rows.instance(user_model, values[:n])
    profile = sql_rows.instance(StaffProfile, values[n:m]) if values[n] is not None else None
    ids = values[m] or []
    user.site_ids = frozenset(int(i) for i in (ids.split(",") if isinstance(ids, str) else ids))
    user.data_version = version_of(values[m + 1 :])
    StaffProfile.user.field.remote_field.set_cached_value(user, profile)
    if profile is not None:
        StaffProfile.user.field.set_cached_value(profile, user)
    return user
