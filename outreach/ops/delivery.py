"""What the sender worker reports as it goes: metrics, and log records with the message's ids."""

from __future__ import annotations

import logging
import time

from outreach.ops import metrics
from outreach.ops.logs import delivery_context

log = logging.getLogger("outreach.delivery.messages")


def timed_send(row, send):
    """Call `send()` for outbox `row` with the row's ids in the log context, timing the exchange
    (with pipelining: this message's commands and the previous one's reply); returns its result."""
    with delivery_context(campaign_id=row.campaign_id, outbox_id=row.id):
        started = time.perf_counter()
        result = send()
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
    return result


def record_outcome(row, result) -> None:
    """Count a row's outcome (sent, failed, back in the queue) and log it with its ids."""
    ids = {"campaign_id": row.campaign_id, "outbox_id": row.id, "kind": row.kind}
    if result.status == "sent":
        metrics.MESSAGES_SENT.labels(row.kind).inc()
        log.debug("outbox %s sent", row.id, extra=ids)
    elif result.status == "failed":
        metrics.MESSAGES_FAILED.labels(row.kind).inc()
        log.warning(
            "outbox %s failed: %s %s",
            row.id,
            result.smtp_code or "",
            result.smtp_reply or "",
            extra={**ids, "smtp_code": result.smtp_code},
        )
    elif result.status == "queued":
        metrics.MESSAGES_DEFERRED.labels(row.kind).inc()
        log.info("outbox %s deferred: %s", row.id, result.smtp_reply or "", extra=ids)
