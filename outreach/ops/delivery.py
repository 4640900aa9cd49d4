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


_SENT_COUNTERS: dict[str, object] = {}


def _sent_counter(kind: str):
    """The sent counter's child for `kind`, looked up once (`labels` takes a lock each call)."""
    counter = _SENT_COUNTERS.get(kind)
    if counter is None:
        counter = _SENT_COUNTERS[kind] = metrics.MESSAGES_SENT.labels(kind)
    return counter


def record_outcome(row, result) -> None:
    """Count a row's outcome (sent, failed, back in the queue) and log it with its ids."""
    if result.status == "sent":
        _sent_counter(row.kind).inc()
        if log.isEnabledFor(logging.DEBUG):
            ids = {"campaign_id": row.campaign_id, "outbox_id": row.id, "kind": row.kind}
            log.debug("outbox %s sent", row.id, extra=ids)
        return
    ids = {"campaign_id": row.campaign_id, "outbox_id": row.id, "kind": row.kind}
    if result.status == "failed":
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
