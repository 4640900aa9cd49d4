"""The /api/v1 blueprint with every route module registered on it."""

from outreach.api import (  # noqa: F401  (each module adds its routes to `bp`)
    calendar_api,
    campaigns_api,
    contacts_api,
    docs_api,
    segments_api,
    subscriptions_api,
)
from outreach.api.blueprint import bp

__all__ = ["bp"]
