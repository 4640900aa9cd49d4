"""Settings read from the environment.

`create_app()` picks a class from `FLASK_CONFIG` (development, testing, production); every value can
be overridden by an environment variable of the same name. Production refuses to start without a
`SECRET_KEY`; only development and testing have a built-in one.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


class Config:
    """Values shared by every environment; read when the app is created, not at import."""

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'outreach.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
        self.TIMEZONE = os.environ.get("OUTREACH_TIMEZONE", "Europe/Zurich")
        self.ORGANISATION_NAME = os.environ.get("ORGANISATION_NAME", "Outreach")
        self.PER_PAGE = env_int("PER_PAGE", 50)
        self.IMPORT_BACKGROUND_ROWS = env_int("IMPORT_BACKGROUND_ROWS", 2000)

        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
        self.MAIL_PORT = env_int("MAIL_PORT", 1025)
        self.MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = os.environ.get(
            "MAIL_DEFAULT_SENDER", "Outreach <outreach@localhost>"
        )
        self.MAIL_DOMAIN = os.environ.get("MAIL_DOMAIN", "localhost")
        self.MAIL_SUPPRESS_SEND = env_bool("MAIL_SUPPRESS_SEND", False)
        # Else Flask-Mail follows DEBUG and prints every SMTP conversation, bodies included.
        self.MAIL_DEBUG = env_bool("MAIL_DEBUG", False)
        # Where stakeholders reach the public pages; links in emails are built from it.
        self.PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
        self.PRIVACY_NOTICE_VERSION = os.environ.get("PRIVACY_NOTICE_VERSION", "2026-11")
        self.CONFIRM_TOKEN_MAX_AGE = env_int("CONFIRM_TOKEN_MAX_AGE", 7 * 24 * 3600)
        self.SUBSCRIBE_RATE_LIMIT = os.environ.get("SUBSCRIBE_RATE_LIMIT", "10 per hour")
        self.API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")

        # Delivery engine (workers and scheduler). Rate and hourly limit apply per worker process;
        # 0 means no limit.
        self.DELIVERY_RATE = env_float("DELIVERY_RATE", 50.0)
        self.DELIVERY_HOURLY_LIMIT = env_int("DELIVERY_HOURLY_LIMIT", 0)
        self.DELIVERY_BATCH_SIZE = env_int("DELIVERY_BATCH_SIZE", 500)
        self.DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 5)
        self.DELIVERY_RETRY_BASE_SECONDS = env_int("DELIVERY_RETRY_BASE_SECONDS", 60)
        self.DELIVERY_LEASE_SECONDS = env_int("DELIVERY_LEASE_SECONDS", 300)
        self.DELIVERY_MAX_CONSECUTIVE_ERRORS = env_int("DELIVERY_MAX_CONSECUTIVE_ERRORS", 50)
        self.DELIVERY_MESSAGES_PER_CONNECTION = env_int("DELIVERY_MESSAGES_PER_CONNECTION", 1000)
        self.DELIVERY_SMTP_TIMEOUT = env_int("DELIVERY_SMTP_TIMEOUT", 60)
        self.DELIVERY_POLL_SECONDS = env_float("DELIVERY_POLL_SECONDS", 2.0)
        self.DELIVERY_SCHEDULER_SECONDS = env_int("DELIVERY_SCHEDULER_SECONDS", 10)
        # DKIM signing of campaign messages (off unless a private key is configured).
        self.DKIM_SELECTOR = os.environ.get("DKIM_SELECTOR", "outreach")
        self.DKIM_PRIVATE_KEY_PATH = os.environ.get("DKIM_PRIVATE_KEY_PATH") or None
        self.DKIM_DOMAIN = os.environ.get("DKIM_DOMAIN") or None  # default: MAIL_DOMAIN
        # Bounce mailbox read by `flask delivery process-bounces` (a Maildir or an IMAP account).
        self.BOUNCE_MAILDIR = os.environ.get("BOUNCE_MAILDIR") or None
        self.BOUNCE_IMAP_HOST = os.environ.get("BOUNCE_IMAP_HOST") or None
        self.BOUNCE_IMAP_PORT = env_int("BOUNCE_IMAP_PORT", 993)
        self.BOUNCE_IMAP_SSL = env_bool("BOUNCE_IMAP_SSL", True)
        self.BOUNCE_IMAP_USER = os.environ.get("BOUNCE_IMAP_USER") or None
        self.BOUNCE_IMAP_PASSWORD = os.environ.get("BOUNCE_IMAP_PASSWORD") or None
        self.BOUNCE_IMAP_FOLDER = os.environ.get("BOUNCE_IMAP_FOLDER", "INBOX")
        # Mailbox-full, policy (5.7.x) and 4.x.x bounces suppress an address after this many.
        self.BOUNCE_SOFT_LIMIT = env_int("BOUNCE_SOFT_LIMIT", 3)
        # Engagement: global switches for click and open tracking (campaigns choose as well).
        self.TRACK_CLICKS = env_bool("TRACK_CLICKS", True)
        self.TRACK_OPENS = env_bool("TRACK_OPENS", True)
        # Bounce and complaint webhooks (each is off until its secret is set).
        self.WEBHOOK_SES_ENABLED = env_bool("WEBHOOK_SES_ENABLED", False)
        self.WEBHOOK_SES_TOPIC_ARNS = os.environ.get("WEBHOOK_SES_TOPIC_ARNS", "")
        self.WEBHOOK_SENDGRID_PUBLIC_KEY = os.environ.get("WEBHOOK_SENDGRID_PUBLIC_KEY", "")
        self.WEBHOOK_POSTMARK_USERNAME = os.environ.get("WEBHOOK_POSTMARK_USERNAME", "")
        self.WEBHOOK_POSTMARK_PASSWORD = os.environ.get("WEBHOOK_POSTMARK_PASSWORD", "")
        self.WEBHOOK_MAILGUN_SIGNING_KEY = os.environ.get("WEBHOOK_MAILGUN_SIGNING_KEY", "")

        # Weekly digest: queued from this weekday and Geneva wall-clock time on, for that ISO week.
        self.DIGEST_WEEKDAY = os.environ.get("DIGEST_WEEKDAY", "monday")
        self.DIGEST_TIME = os.environ.get("DIGEST_TIME", "08:00")

        self.DEV_MAIL_HOST = os.environ.get("DEV_MAIL_HOST", "127.0.0.1")
        self.DEV_MAIL_PORT = env_int("DEV_MAIL_PORT", 1025)
        self.DEV_MAIL_DIR = os.environ.get("DEV_MAIL_DIR", str(INSTANCE_DIR / "devmail"))
        self.DEV_MAIL_VIEWER = False

        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.WTF_CSRF_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        # Sign-in throttling: per client address, and per account (lockout after failures).
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute; 100 per hour")
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
        # Sent as Strict-Transport-Security when SESSION_COOKIE_SECURE (served over HTTPS).
        self.HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)

        # Operations (docs/operations.md): logs, reverse proxy, health checks, metrics, page cache.
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")  # or "json"
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # How many proxies in front set each X-Forwarded-* header (0: header ignored).
        self.PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 0)
        self.PROXY_FIX_X_PROTO = env_int("PROXY_FIX_X_PROTO", 0)
        self.PROXY_FIX_X_HOST = env_int("PROXY_FIX_X_HOST", 0)
        self.PROXY_FIX_X_PREFIX = env_int("PROXY_FIX_X_PREFIX", 0)
        self.READYZ_CHECK_SMTP = env_bool("READYZ_CHECK_SMTP", True)
        self.READYZ_TIMEOUT = env_float("READYZ_TIMEOUT", 3.0)
        self.METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
        self.METRICS_PORT = env_int("METRICS_PORT", 0)  # workers and scheduler; 0: not exported
        self.METRICS_ADDRESS = os.environ.get("METRICS_ADDRESS", "127.0.0.1")
        # Server-side cache of the public subscribe and archive pages (Flask-Caching).
        self.CACHE_TYPE = os.environ.get("CACHE_TYPE", "SimpleCache")
        self.CACHE_DEFAULT_TIMEOUT = env_int("PUBLIC_CACHE_SECONDS", 60)
        self.CACHE_DIR = os.environ.get("CACHE_DIR", str(INSTANCE_DIR / "cache"))
        self.CACHE_THRESHOLD = env_int("CACHE_THRESHOLD", 2000)


class DevelopmentConfig(Config):
    def __init__(self) -> None:
        super().__init__()
        self.CONFIG_NAME = "development"
        self.DEBUG = True
        self.SECRET_KEY = self.SECRET_KEY or "development-only-secret-key"
        self.DEV_MAIL_VIEWER = env_bool("DEV_MAIL_VIEWER", True)
        # Mail goes to the development catcher unless MAIL_SERVER / MAIL_PORT say otherwise.
        if "MAIL_PORT" not in os.environ and "MAIL_SERVER" not in os.environ:
            self.MAIL_SERVER, self.MAIL_PORT = self.DEV_MAIL_HOST, self.DEV_MAIL_PORT


class TestingConfig(Config):
    def __init__(self) -> None:
        super().__init__()
        self.CONFIG_NAME = "testing"
        self.TESTING = True
        self.SECRET_KEY = "testing-only-secret-key"
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL_TEST", "sqlite://")
        self.WTF_CSRF_ENABLED = False
        self.RATELIMIT_ENABLED = False
        self.DEV_MAIL_VIEWER = True
        self.MAIL_SERVER = "127.0.0.1"
        self.MAIL_PORT = 9  # discard port: nothing is sent unless a test starts its own server
        self.MAIL_SUPPRESS_SEND = True
        self.CACHE_TYPE = "NullCache"  # a test that checks caching turns it on
        self.CACHE_NO_NULL_WARNING = True
        self.READYZ_TIMEOUT = 1.0


class ProductionConfig(Config):
    def __init__(self) -> None:
        super().__init__()
        self.CONFIG_NAME = "production"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        if not self.SECRET_KEY:
            raise RuntimeError("SECRET_KEY must be set in production (see .env.example)")
        for name in ("DATABASE_URL", "PUBLIC_BASE_URL"):
            if name not in os.environ:
                raise RuntimeError(f"{name} must be set in production (see .env.example)")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """Instantiate the settings for `name` (default: $FLASK_CONFIG, else development)."""
    name = name or os.environ.get("FLASK_CONFIG") or "development"
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"Unknown FLASK_CONFIG {name!r}; use one of {sorted(CONFIGS)}") from None
