"""Seed data of a fresh sandbox account: users, activity types, currencies, default pipeline.

- Users (notes §4.8): a fixture list ``[{"id", "name", "email", "active_flag"}]``; the first is the
  token's own user (``/users/me``, ``is_you``). Without a list, one admin user is seeded.
- Activity types (notes §4.5): call, meeting, task, deadline, email, lunch with ``key_string``.
  ``task`` and ``email`` are UNCONFIRMED as defaults of a real account but common.
- Currencies: a few common ISO codes (v1 GET /currencies example shape).
- A real account always has a pipeline; the sandbox seeds "Pipeline" with five stages (the names
  of Pipedrive's default sales pipeline) so deals can be created before any pipeline is.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ADMIN = {"id": 1, "name": "Sandbox Admin", "email": "admin@sandbox.example", "active_flag": True}
COMPANY = {
    "company_id": 1000001,
    "company_name": "Flit Sandbox Clinic",
    "company_domain": "flit-sandbox",
    "company_country": "EE",
    "company_industry": "Healthcare",
    "language": {"language_code": "en", "country_code": "US"},
}
SEED_TIME_V1 = "2026-01-01 00:00:00"

ACTIVITY_TYPES: tuple[dict[str, Any], ...] = tuple(
    {
        "id": index,
        "order_nr": index,
        "name": name,
        "key_string": key,
        "icon_key": key,
        "active_flag": True,
        "color": "FFFFFF",
        "is_custom_flag": False,
        "add_time": SEED_TIME_V1,
        "update_time": SEED_TIME_V1,
    }
    for index, (key, name) in enumerate(
        [("call", "Call"), ("meeting", "Meeting"), ("task", "Task"), ("deadline", "Deadline"),
         ("email", "Email"), ("lunch", "Lunch")],
        start=1,
    )
)
ACTIVITY_TYPE_KEYS = frozenset(item["key_string"] for item in ACTIVITY_TYPES)

CURRENCIES: tuple[dict[str, Any], ...] = tuple(
    {"id": index, "code": code, "name": name, "decimal_points": 2, "symbol": symbol,
     "active_flag": True, "is_custom_flag": False}
    for index, (code, name, symbol) in enumerate(
        [("EUR", "Euro", "€"), ("USD", "US Dollar", "$"), ("GBP", "British Pound", "£"),
         ("CAD", "Canadian Dollar", "CA$"), ("AUD", "Australian Dollar", "A$"), ("CHF", "Swiss Franc", "CHF"),
         ("SEK", "Swedish Krona", "kr"), ("NOK", "Norwegian Krone", "kr"), ("DKK", "Danish Krone", "kr")],
        start=1,
    )
)
CURRENCY_CODES = frozenset(item["code"] for item in CURRENCIES)

DEFAULT_PIPELINE = "Pipeline"
DEFAULT_STAGES = ("Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started")


def normalise_users(users: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Validate the fixture list and return ``[{"id", "name", "email", "active_flag"}]``.

    Raises:
        ValueError: empty list, duplicate ids, or an entry without int ``id`` / str ``name`` /
            str ``email``.
    """
    if users is None:
        return [dict(DEFAULT_ADMIN)]
    if not users:
        raise ValueError("users must contain at least one user (the token's own user)")
    seen: set[int] = set()
    out = []
    for user in users:
        if not isinstance(user, dict):
            raise ValueError("each user must be an object")
        user_id, name, email = user.get("id"), user.get("name"), user.get("email")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
            raise ValueError("user id must be a positive integer")
        if user_id in seen:
            raise ValueError("duplicate user id")
        if not isinstance(name, str) or not isinstance(email, str):
            raise ValueError("user name and email must be strings")
        seen.add(user_id)
        out.append({"id": user_id, "name": name, "email": email, "active_flag": bool(user.get("active_flag", True))})
    return out


def render_user(user: dict[str, Any], me_id: int) -> dict[str, Any]:
    """Full v1 user object (v1 spec BaseUser) from a fixture entry."""
    is_me = user["id"] == me_id
    return {
        "id": user["id"],
        "name": user["name"],
        "default_currency": "EUR",
        "locale": "en_US",
        "lang": 1,
        "email": user["email"],
        "phone": None,
        "activated": user["active_flag"],
        "last_login": SEED_TIME_V1,
        "created": SEED_TIME_V1,
        "modified": SEED_TIME_V1,
        "has_created_company": is_me,
        "access": [{"app": "sales", "admin": is_me, "permission_set_id": f"sandbox-{'admin' if is_me else 'regular'}"}],
        "active_flag": user["active_flag"],
        "timezone_name": "UTC",
        "timezone_offset": "+00:00",
        "role_id": 1,
        "icon_url": None,
        "is_you": is_me,
        "is_deleted": not user["active_flag"],
    }
