"""The OpenAPI 3.0 document of /api/v1, written by hand to match `serialise` and `inputs`."""

from __future__ import annotations

from typing import Any

from outreach.calendar.models import KEY_DATE_KINDS, SESSION_STATUSES
from outreach.campaigns.models import CAMPAIGN_STATUSES, CAMPAIGN_TOPICS
from outreach.contacts.models import CONTACT_TYPES, LANGUAGES, STATUSES
from outreach.contacts.queries import SORTS
from outreach.delivery.models import OUTBOX_STATUSES
from outreach.subscriptions.models import ALERT_FREQUENCIES, TOPICS

MAX_ID = 2**31 - 1


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def string(nullable: bool = False, **extra) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", **extra}
    if nullable:
        out["nullable"] = True
    return out


def integer(nullable: bool = False, **extra) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", **extra}
    if nullable:
        out["nullable"] = True
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), closed: bool = True):
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def output(properties: dict[str, Any]) -> dict[str, Any]:
    """A response object: every property is always present."""
    return obj(properties, tuple(properties), closed=False)


def page_of(name: str) -> dict[str, Any]:
    return output(
        {
            "items": array(ref(name)),
            "page": integer(minimum=1),
            "per_page": integer(minimum=1, maximum=100),
            "total": integer(minimum=0),
        }
    )


DATETIME = string(format="date-time")
DATETIME_OR_NULL = string(nullable=True, format="date-time")
DATE_OR_NULL = string(nullable=True, format="date")
ID = integer(minimum=1, maximum=MAX_ID)

SCHEMAS: dict[str, Any] = {
    "Error": output(
        {
            "error": output(
                {
                    "code": string(),
                    "message": string(),
                    "fields": {"type": "object", "additionalProperties": string()},
                }
            )
        }
    ),
    "Contact": output(
        {
            "id": integer(),
            "email": string(),
            "first_name": string(),
            "last_name": string(),
            "organisation": {
                **output({"id": integer(), "name": string()}),
                "nullable": True,
            },
            "type": string(enum=list(CONTACT_TYPES)),
            "role_title": string(),
            "language": string(enum=list(LANGUAGES)),
            "country": string(nullable=True),
            "countries": array(string()),
            "topics": array(string()),
            "status": string(enum=list(STATUSES)),
            "notes": string(),
            "created_at": DATETIME,
            "updated_at": DATETIME,
        }
    ),
    "ContactInput": obj(
        {
            "email": string(maxLength=320, example="ana@example.org"),
            "first_name": string(maxLength=150),
            "last_name": string(maxLength=150),
            "organisation": string(
                nullable=True,
                maxLength=300,
                description="Organisation name; created if new. Or give organisation_id.",
            ),
            "organisation_id": integer(nullable=True, minimum=1, maximum=MAX_ID),
            "type": string(nullable=True, enum=list(CONTACT_TYPES)),
            "role_title": string(maxLength=200),
            "language": string(enum=list(LANGUAGES)),
            "country": string(nullable=True, description="Primary country: code or name."),
            "countries": array(string(description="Other countries of work.")),
            "topics": array(string()),
            "status": string(enum=list(STATUSES)),
            "notes": string(maxLength=10000),
        },
        ("email",),
    ),
    "ImportReport": output(
        {
            "created": integer(minimum=0),
            "updated": integer(minimum=0),
            "unchanged": integer(minimum=0),
            "rejected": array(output({"line": integer(), "email": string(), "reason": string()})),
            "suppressed": array(output({"line": integer(), "email": string(), "reason": string()})),
        }
    ),
    "KeyDate": obj(
        {
            "id": integer(),
            "kind": string(enum=list(KEY_DATE_KINDS)),
            "session": integer(),
            "country": string(nullable=True, description="Set when the date is one State's."),
            "starts_at": DATETIME,
            "ends_at": DATETIME_OR_NULL,
            "all_day": {"type": "boolean"},
            "estimated": {"type": "boolean"},
            "description": string(),
            "url": string(),
            "states": array(string(description="Country codes the deadline concerns.")),
        },
        (
            "id",
            "kind",
            "session",
            "country",
            "starts_at",
            "ends_at",
            "all_day",
            "estimated",
            "description",
            "url",
        ),
        closed=False,
    ),
    "Session": output(
        {
            "number": integer(),
            "cycle": integer(nullable=True),
            "wg_start": DATE_OR_NULL,
            "wg_end": DATE_OR_NULL,
            "location": string(),
            "status": string(enum=list(SESSION_STATUSES)),
            "notes": string(),
        }
    ),
    "SessionInput": obj(
        {
            "number": integer(minimum=1, maximum=MAX_ID),
            "cycle": integer(nullable=True, minimum=1, maximum=MAX_ID),
            "wg_start": DATE_OR_NULL,
            "wg_end": DATE_OR_NULL,
            "location": string(maxLength=200),
            "status": string(enum=list(SESSION_STATUSES)),
            "notes": string(maxLength=10000),
        }
    ),
    "Segment": output(
        {
            "id": integer(),
            "name": string(),
            "description": string(),
            "filters": {"type": "object"},
            "count": integer(nullable=True, description="Live member count."),
            "created_at": DATETIME,
        }
    ),
    "SegmentFilters": obj(
        {
            "types": array(string(enum=list(CONTACT_TYPES))),
            "countries": array(string()),
            "session_under_review": integer(nullable=True, minimum=1, maximum=MAX_ID),
            "languages": array(string(enum=list(LANGUAGES))),
            "topics": array(string()),
            "statuses": array(string(enum=list(STATUSES))),
            "organisation_ids": array(integer(minimum=1, maximum=MAX_ID)),
            "q": string(),
        }
    ),
    "SegmentInput": obj(
        {
            "name": string(maxLength=200),
            "description": string(maxLength=10000),
            "filters": ref("SegmentFilters"),
        },
        ("name",),
    ),
    "Variant": obj(
        {
            "language": string(enum=list(LANGUAGES)),
            "subject": string(maxLength=500),
            "body_markdown": string(maxLength=200000),
        },
        ("language", "subject", "body_markdown"),
    ),
    "Campaign": output(
        {
            "id": integer(),
            "name": string(),
            "topic": string(enum=list(CAMPAIGN_TOPICS)),
            "status": string(enum=list(CAMPAIGN_STATUSES)),
            "status_reason": string(),
            "sender_name": string(),
            "sender_email": string(),
            "reply_to": string(),
            "default_language": string(enum=list(LANGUAGES)),
            "session_id": integer(nullable=True),
            "public": {"type": "boolean"},
            "segment_ids": array(integer()),
            "variants": array(ref("Variant")),
            "scheduled_at": DATETIME_OR_NULL,
            "started_at": DATETIME_OR_NULL,
            "finished_at": DATETIME_OR_NULL,
            "counts": output(
                {name: integer(minimum=0) for name in ("queued", "sent", "failed", "skipped")}
            ),
            "created_at": DATETIME,
            "updated_at": DATETIME,
        }
    ),
    "CampaignInput": obj(
        {
            "name": string(maxLength=200),
            "topic": string(enum=list(CAMPAIGN_TOPICS)),
            "sender_name": string(maxLength=200),
            "sender_email": string(maxLength=320),
            "reply_to": string(maxLength=320),
            "default_language": string(enum=list(LANGUAGES)),
            "session_id": integer(nullable=True, minimum=1, maximum=MAX_ID),
            "public": {"type": "boolean"},
            "variants": array(ref("Variant")),
            "segment_ids": array(integer(minimum=1, maximum=MAX_ID)),
        }
    ),
    "ScheduleInput": obj(
        {
            "send_at": string(format="date-time", example="2027-01-31T09:00:00+01:00"),
            "now": {"type": "boolean"},
        }
    ),
    "Recipient": output(
        {
            "id": integer(),
            "contact_id": integer(nullable=True),
            "email": string(),
            "language": string(),
            "status": string(enum=list(OUTBOX_STATUSES)),
            "attempts": integer(minimum=0),
            "sent_at": DATETIME_OR_NULL,
            "smtp_reply": string(),
        }
    ),
    "SubscriptionInput": obj(
        {
            "email": string(maxLength=320),
            "consent": {"type": "boolean", "description": "Agreement to the privacy notice."},
            "first_name": string(maxLength=150),
            "last_name": string(maxLength=150),
            "organisation": string(maxLength=300),
            "contact_type": string(enum=list(CONTACT_TYPES)),
            "language": string(enum=list(LANGUAGES)),
            "countries": array(string(minLength=2, maxLength=2)),
            "all_sessions": {"type": "boolean"},
            "session_numbers": array(integer(minimum=1, maximum=1000)),
            "topics": array(string(enum=list(TOPICS))),
            "alert_frequency": string(enum=list(ALERT_FREQUENCIES)),
        },
        ("email", "consent"),
    ),
    "SubscriptionAccepted": output({"status": string(enum=["pending"]), "message": string()}),
}
for _name in ("Contact", "Session", "Segment", "Campaign", "Recipient", "KeyDate"):
    SCHEMAS[f"{_name}Page"] = page_of(_name)
SCHEMAS["SessionDetail"] = output(
    {
        **SCHEMAS["Session"]["properties"],
        "reviews": array(
            output({"country": string(), "note": string(), "key_dates": array(ref("KeyDate"))})
        ),
        "key_dates": array(ref("KeyDate")),
    }
)

ERRORS = {
    "400": "Malformed request: not JSON, wrong types, unknown fields or parameters.",
    "401": "No token, or an unknown or revoked one.",
    "403": "The token's role may not do this (viewers only read).",
    "404": "No such resource.",
    "409": "Conflicts with the current state (duplicate, locked, illegal transition).",
    "413": "The upload is too large.",
    "422": "Well-formed but refused; `fields` says what to fix.",
    "429": "Too many requests; retry later.",
}


def error(status: str) -> dict[str, Any]:
    return {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }


def ok(schema: dict[str, Any] | None, description: str = "OK") -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


def path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": integer(minimum=1, maximum=MAX_ID),
        "description": description,
    }


PAGING = [
    query("page", integer(minimum=1, maximum=MAX_ID), "Page number, from 1."),
    query("per_page", integer(minimum=1, maximum=100), "Items per page (default 50)."),
]


def operation(
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    errors: tuple[str, ...] = (),
    parameters: list | None = None,
    body: str | None = None,
    write: bool = False,
    public: bool = False,
) -> dict[str, Any]:
    codes = set(errors) | {"429"}
    if not public:
        codes.add("401")
    if write and not public:
        codes |= {"403", "409"}
    if body or parameters:
        codes.add("400")
    op: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "responses": {**responses, **{code: error(code) for code in sorted(codes)}},
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = json_body(body)
    if public:
        op["security"] = []
    return op


CONTACT_ID = path("contact_id", "Contact id.")
SEGMENT_ID = path("segment_id", "Segment id.")
CAMPAIGN_ID = path("campaign_id", "Campaign id.")
SESSION_NUMBER = path("number", "UPR session number.")


def _campaign_move(summary: str) -> dict[str, Any]:
    return {
        "post": operation(
            "campaigns",
            summary,
            {"200": ok(ref("Campaign"))},
            errors=("404", "409"),
            parameters=[CAMPAIGN_ID],
            write=True,
        )
    }


PATHS: dict[str, Any] = {
    "/contacts": {
        "get": operation(
            "contacts",
            "List contacts, filtered and paginated",
            {"200": ok(ref("ContactPage"))},
            parameters=[
                query("country", string(), "Works on this country (code or name); comma list."),
                query("type", string(), "Contact type(s), comma-separated."),
                query("language", string(), "en, fr or es; comma list."),
                query("topic", string(), "Topic(s), comma-separated (any of)."),
                query(
                    "session",
                    integer(minimum=1, maximum=MAX_ID),
                    "Works on a State under review in this UPR session.",
                ),
                query("status", string(), "active, inactive or blocklisted; comma list."),
                query("q", string(), "Search in email, names and organisation."),
                query("sort", string(enum=sorted(SORTS) + [f"-{key}" for key in sorted(SORTS)])),
                *PAGING,
            ],
        ),
        "post": operation(
            "contacts",
            "Create a contact",
            {"201": ok(ref("Contact"), "Created")},
            errors=("409", "422"),
            body="ContactInput",
            write=True,
        ),
    },
    "/contacts/{contact_id}": {
        "parameters": [CONTACT_ID],
        "get": operation("contacts", "One contact", {"200": ok(ref("Contact"))}, errors=("404",)),
        "patch": operation(
            "contacts",
            "Change some fields of a contact",
            {"200": ok(ref("Contact"))},
            errors=("404", "409", "422"),
            body="ContactPatch",
            write=True,
        ),
        "delete": operation(
            "contacts",
            "Erase a contact (right to erasure; the address stays suppressed as a hash)",
            {"204": ok(None, "Erased")},
            errors=("404",),
            write=True,
        ),
    },
    "/imports": {
        "post": {
            **operation(
                "contacts",
                "Import contacts from a CSV file (as `flask contacts import --json`)",
                {"200": ok(ref("ImportReport"), "The import report")},
                errors=("400", "413", "422"),
                write=True,
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": obj(
                            {
                                "file": string(format="binary"),
                                "dry_run": {"type": "boolean"},
                                "strict": {"type": "boolean"},
                            },
                            ("file",),
                        )
                    }
                },
            },
        }
    },
    "/sessions": {
        "get": operation(
            "calendar",
            "List UPR sessions, newest first",
            {"200": ok(ref("SessionPage"))},
            parameters=PAGING,
        ),
        "post": operation(
            "calendar",
            "Create a UPR session (its usual key dates are derived)",
            {"201": ok(ref("SessionDetail"), "Created")},
            errors=("422",),
            body="SessionCreate",
            write=True,
        ),
    },
    "/sessions/{number}": {
        "parameters": [SESSION_NUMBER],
        "get": operation(
            "calendar",
            "A session with its reviews and key dates",
            {"200": ok(ref("SessionDetail"))},
            errors=("404",),
        ),
        "patch": operation(
            "calendar",
            "Change a session",
            {"200": ok(ref("SessionDetail"))},
            errors=("404", "422"),
            body="SessionInput",
            write=True,
        ),
    },
    "/deadlines": {
        "get": operation(
            "calendar",
            "Stakeholder deadlines between two dates",
            {"200": ok(ref("KeyDatePage"))},
            parameters=[
                query("from", string(format="date"), "First day (default today, Geneva)."),
                query("to", string(format="date"), "Last day (default 90 days after `from`)."),
                query("country", string(), "Only deadlines concerning this State (code or name)."),
                query("session", integer(minimum=1, maximum=MAX_ID), "Only this UPR session."),
                *PAGING,
            ],
        )
    },
    "/segments": {
        "get": operation(
            "segments",
            "List segments with live counts",
            {"200": ok(ref("SegmentPage"))},
            parameters=PAGING,
        ),
        "post": operation(
            "segments",
            "Save a segment; answers its id and member count",
            {"201": ok(ref("Segment"), "Created")},
            errors=("422",),
            body="SegmentInput",
            write=True,
        ),
    },
    "/segments/{segment_id}": {
        "parameters": [SEGMENT_ID],
        "get": operation(
            "segments",
            "One segment with its live count",
            {"200": ok(ref("Segment"))},
            errors=("404",),
        ),
    },
    "/segments/{segment_id}/members": {
        "parameters": [SEGMENT_ID],
        "get": operation(
            "segments",
            "The segment's members, paginated",
            {"200": ok(ref("ContactPage"))},
            errors=("404", "422"),
            parameters=[query("sort", string(enum=sorted(SORTS))), *PAGING],
        ),
    },
    "/campaigns": {
        "get": operation(
            "campaigns",
            "List campaigns, newest first",
            {"200": ok(ref("CampaignPage"))},
            parameters=[query("status", string(enum=list(CAMPAIGN_STATUSES))), *PAGING],
        ),
        "post": operation(
            "campaigns",
            "Create a draft campaign",
            {"201": ok(ref("Campaign"), "Created")},
            errors=("422",),
            body="CampaignCreate",
            write=True,
        ),
    },
    "/campaigns/{campaign_id}": {
        "parameters": [CAMPAIGN_ID],
        "get": operation(
            "campaigns",
            "A campaign with its status and counts",
            {"200": ok(ref("Campaign"))},
            errors=("404",),
        ),
        "patch": operation(
            "campaigns",
            "Change a draft campaign",
            {"200": ok(ref("Campaign"))},
            errors=("404", "409", "422"),
            body="CampaignInput",
            write=True,
        ),
    },
    "/campaigns/{campaign_id}/schedule": {
        "parameters": [CAMPAIGN_ID],
        "post": operation(
            "campaigns",
            "Schedule at `send_at`, or send `now` (a scheduled campaign is rescheduled)",
            {"200": ok(ref("Campaign"))},
            errors=("404", "409", "422"),
            body="ScheduleInput",
            write=True,
        ),
    },
    "/campaigns/{campaign_id}/pause": _campaign_move("Pause sending"),
    "/campaigns/{campaign_id}/resume": _campaign_move("Resume a paused campaign"),
    "/campaigns/{campaign_id}/cancel": _campaign_move("Cancel; messages not sent are skipped"),
    "/campaigns/{campaign_id}/recipients": {
        "parameters": [CAMPAIGN_ID],
        "get": operation(
            "campaigns",
            "Per-recipient outcomes",
            {"200": ok(ref("RecipientPage"))},
            errors=("404",),
            parameters=[
                query("status", string(enum=list(OUTBOX_STATUSES))),
                query("q", string(), "Search in addresses."),
                *PAGING,
            ],
        ),
    },
    "/subscriptions": {
        "post": operation(
            "subscriptions",
            "Subscribe (public): a confirmation email is sent, as by the subscribe form",
            {"202": ok(ref("SubscriptionAccepted"), "Accepted; confirmation pending")},
            errors=("422",),
            body="SubscriptionInput",
            public=True,
        )
    },
}

# Create bodies need the fields a PATCH may leave out.
SCHEMAS["ContactPatch"] = {**SCHEMAS["ContactInput"]}
SCHEMAS["ContactPatch"].pop("required")
SCHEMAS["SessionCreate"] = {**SCHEMAS["SessionInput"], "required": ["number"]}
SCHEMAS["CampaignCreate"] = {**SCHEMAS["CampaignInput"], "required": ["name", "variants"]}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Outreach API",
            "version": "1.0.0",
            "description": (
                "Contacts, UPR calendar, segments, campaigns and subscriptions. "
                "Send `Authorization: Bearer <token>`; errors are "
                '`{"error": {"code", "message", "fields"}}`.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": PATHS,
    }
