"""Prometheus metrics of the delivery engine.

Counters and the latency histogram live in the process that sends (a worker, or `send-due`);
scheduler job runs in the scheduler. Each such process exports its own on `--metrics-port`
(METRICS_PORT), or all processes write to PROMETHEUS_MULTIPROC_DIR and `/metrics` adds them up.
The queue depth is read from the database when `/metrics` is scraped, so any web process has it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.delivery.models import OutboxMessage

MESSAGES_SENT = Counter("outreach_messages_sent", "Messages accepted by the SMTP server.", ["kind"])
MESSAGES_FAILED = Counter(
    "outreach_messages_failed",
    "Messages given up on (refused, invalid, too many retries).",
    ["kind"],
)
MESSAGES_DEFERRED = Counter(
    "outreach_messages_deferred", "Send attempts put back in the queue for later.", ["kind"]
)
SEND_SECONDS = Histogram(
    "outreach_send_seconds",
    "Time of one SMTP send, from handing the message over to the server's reply.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SCHEDULER_RUNS = Counter(
    "outreach_scheduler_runs", "Scheduler job runs by the leader.", ["job", "outcome"]
)

__all__ = ["CONTENT_TYPE_LATEST", "exposition", "serve"]


class QueueDepth(Collector):
    """`outreach_queue_depth{status,kind}`: outbox rows waiting (queued) or being sent."""

    def __init__(self, session: Session):
        self.session = session

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "outreach_queue_depth", "Outbox rows queued or being sent.", labels=["status", "kind"]
        )
        counts = {(status, "campaign"): 0 for status in ("queued", "sending")}
        rows = self.session.execute(
            select(OutboxMessage.status, OutboxMessage.kind, func.count())
            .where(OutboxMessage.status.in_(("queued", "sending")))
            .group_by(OutboxMessage.status, OutboxMessage.kind)
        )
        for status, kind, count in rows:
            counts[(status, kind)] = count
        for (status, kind), count in sorted(counts.items()):
            gauge.add_metric([status, kind], count)
        yield gauge


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's when PROMETHEUS_MULTIPROC_DIR is set."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(session: Session) -> bytes:
    """The text the `/metrics` endpoint answers: process metrics, then the queue depth."""
    queue = CollectorRegistry(auto_describe=False)
    queue.register(QueueDepth(session))
    return generate_latest(process_registry()) + generate_latest(queue)


def serve(port: int, address: str = "127.0.0.1") -> None:
    """Export this process's metrics on its own port (a worker or scheduler), in a thread."""
    start_http_server(port, addr=address)
