"""Role checks inside services: the views hide buttons, the services refuse.

Roles are ordered viewer < editor < admin. A service calls `require_role("editor")` before it
changes anything; in a web or API request the signed-in user must hold that role, while a CLI
command or a worker (no request) acts as the operator of the machine and passes.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user
from werkzeug.exceptions import Forbidden

RANKS = {"viewer": 0, "editor": 1, "admin": 2}


class PermissionDenied(Forbidden):
    """The acting user's role does not allow the operation (a 403 page or JSON error)."""

    def __init__(self, message: str = "Your role does not allow this action."):
        super().__init__(message)
        self.message = message


def acting_user() -> Any | None:
    """The signed-in user of the current request, or None (anonymous, or no request at all)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def has_role(user: Any | None, role: str) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return RANKS.get(getattr(user, "role", ""), -1) >= RANKS[role]


def ensure_role(user: Any | None, role: str) -> None:
    """Raise PermissionDenied unless `user` is active and holds `role` or a higher one."""
    if not has_role(user, role):
        raise PermissionDenied(f"This action needs the {role} role.")


def require_role(role: str) -> None:
    """`ensure_role` for the user of the current request; outside a request, the operator passes."""
    if has_request_context():
        ensure_role(acting_user(), role)
