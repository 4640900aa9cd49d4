"""Staff account operations: create, change role, deactivate, passwords, sign-in with lockout."""

from __future__ import annotations

from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.audit.services import record
from outreach.auth.models import ROLES, User
from outreach.auth.permissions import require_role
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError

MIN_PASSWORD_LENGTH = 10


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
            {"password": f"At least {MIN_PASSWORD_LENGTH} characters."},
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ServiceError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}", {"role": role})


def create_user(session: Session, email: str, password: str, role: str = "viewer", name: str = ""):
    require_role("admin")
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ServiceError(f"Invalid email address: {exc}", {"email": str(exc)}) from None
    _check_role(role)
    _check_password(password)
    if find_user(session, email):
        raise ServiceError(f"A user with email {email} already exists", {"email": "taken"})
    user = User(email=email, role=role, name=name)
    user.set_password(password)
    session.add(user)
    session.flush()
    record(
        session, "user.create", "user", user.id, f"Created {role} {email}", {"role": [None, role]}
    )
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), func.lower(User.email))))


def _active_admins(session: Session) -> int:
    stmt = select(func.count()).select_from(User).where(User.role == "admin", User.active)
    return session.scalar(stmt) or 0


def _keep_an_admin(session: Session, user: User) -> None:
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise ServiceError(
            "This is the last active admin: make someone else admin first.",
            {"role": "The last active admin must stay an admin."},
        )


def change_role(session: Session, user: User, role: str) -> None:
    require_role("admin")
    _check_role(role)
    if role == user.role:
        return
    if role != "admin":
        _keep_an_admin(session, user)
    old, user.role = user.role, role
    session.flush()
    record(
        session,
        "user.role",
        "user",
        user.id,
        f"{user.email}: {old} → {role}",
        {"role": [old, role]},
    )


def set_active(session: Session, user: User, active: bool) -> None:
    require_role("admin")
    if user.active == active:
        return
    if not active:
        _keep_an_admin(session, user)
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    session.flush()
    verb = "Reactivated" if active else "Deactivated"
    record(
        session,
        "user.activate" if active else "user.deactivate",
        "user",
        user.id,
        f"{verb} {user.email}",
        {"active": [not active, active]},
    )


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """A user changes their own password; the current one must be right."""
    if not user.check_password(current or ""):
        raise ServiceError(
            "The current password is not right.",
            {"current_password": "This is not your current password."},
        )
    _check_password(new or "")
    user.set_password(new)
    session.flush()
    record(
        session,
        "user.password",
        "user",
        user.id,
        f"{user.email} changed their password",
        actor=user,
    )


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active, unlocked user with these credentials, or None.

    Unknown address, wrong password, inactive and locked account all answer None, and take the
    time of one password hash. LOGIN_MAX_FAILURES wrong passwords in a row lock the account for
    LOGIN_LOCKOUT_SECONDS; a good password while locked does not sign in.
    """
    user = find_user(session, email or "")
    if user is None:
        User(password_hash="").set_password(password or "")
        return None
    good = user.check_password(password or "")
    if is_locked(user) or not user.active:
        return None
    if not good:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= _setting("LOGIN_MAX_FAILURES", 5):
            seconds = _setting("LOGIN_LOCKOUT_SECONDS", 900)
            user.locked_until = utcnow() + timedelta(seconds=seconds)
            user.failed_logins = 0
            record(
                session,
                "user.locked",
                "user",
                user.id,
                f"{user.email} locked for {seconds} s after repeated wrong passwords",
            )
        session.flush()
        return None
    user.failed_logins, user.locked_until = 0, None
    user.last_login_at = utcnow()
    return user
