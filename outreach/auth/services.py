"""Staff account operations."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.auth.models import ROLES, User
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError

MIN_PASSWORD_LENGTH = 10


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(session: Session, email: str, password: str, role: str = "viewer", name: str = ""):
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ServiceError(f"Invalid email address: {exc}", {"email": str(exc)}) from None
    if role not in ROLES:
        raise ServiceError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}", {"role": role})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
            {"password": "too short"},
        )
    if find_user(session, email):
        raise ServiceError(f"A user with email {email} already exists", {"email": "taken"})
    user = User(email=email, role=role, name=name)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for unknown and wrong)."""
    user = find_user(session, email or "")
    if user is None:
        # Hash anyway so an unknown address takes as long as a wrong password.
        User(password_hash="").set_password(password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    user.last_login_at = utcnow()
    return user
