"""Role checks for staff views. Every staff blueprint calls `require_login` before each request."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from outreach.extensions import login_manager


def require_login():
    """`before_request` hook for staff blueprints: anonymous users go to the login page."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, "Your role does not allow this action.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


editor_required = role_required("admin", "editor")
admin_required = role_required("admin")
