"""Staff accounts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.core.database import UTCDateTime, utcnow
from outreach.extensions import db, login_manager

ROLES = ("admin", "editor", "viewer")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """The session's user id, bound to the current password: changing the password ends the
        other sessions and remember-me cookies."""
        return f"{self.id}.{self.password_fingerprint()}"

    def password_fingerprint(self) -> str:
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def can_edit(self) -> bool:
        return self.role in ("admin", "editor")

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    number, _, fingerprint = user_id.partition(".")
    if not number.isdigit():
        return None
    user = db.session.get(User, int(number))
    if user is None or not hmac.compare_digest(fingerprint, user.password_fingerprint()):
        return None
    return user
