"""A real SMTP server on loopback that records every message it accepts.

Each accepted message is kept as a `Delivery` (recipient, envelope sender, the outbox id taken from
the `X-Outreach-Id` header or else from the VERP envelope sender `bounces+<id>@...`, and the
Message-ID), in a list and optionally appended as a JSON line to a file. Replies can be chosen per
recipient (`replies["a@x"] = ["451 4.7.1 Try later", "250 OK"]`: given in turn, the last repeats).
`stop()` drops every open connection, as a crashed server would; `start()` listens again on the
same port. PIPELINING is advertised unless `pipelining=False`. `hold_at` makes the workers
(one connection each) reach chosen points of their batches together.

Run alone (another process): `python tests/reliability/smtp_sink.py --port 2525 [--record F]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

VERP = re.compile(r"^bounces\+(\d+)@", re.IGNORECASE)
HEADER = re.compile(rb"^(message-id|x-outreach-id):[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Delivery:
    recipient: str
    mail_from: str
    outbox_id: int | None
    message_id: str
    size: int
    at: float


def parse_delivery(mail_from: str, recipient: str, data: bytes) -> Delivery:
    """What the tests need from one accepted message (headers only; the body is not parsed)."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = {name.lower(): value.strip() for name, value in HEADER.findall(head)}
    outbox_id = None
    if headers.get(b"x-outreach-id", b"").isdigit():
        outbox_id = int(headers[b"x-outreach-id"])
    elif match := VERP.match(mail_from or ""):
        outbox_id = int(match.group(1))
    return Delivery(
        recipient=recipient,
        mail_from=mail_from,
        outbox_id=outbox_id,
        message_id=headers.get(b"message-id", b"").decode("ascii", "replace"),
        size=len(data),
        at=time.time(),
    )


class Barrier:
    """`parties` coroutines of the server's event loop wait for each other (at most `timeout`)."""

    def __init__(self, parties: int, timeout: float):
        self.parties, self.timeout, self.arrived = parties, timeout, 0
        self.event: asyncio.Event | None = None
        self.released_together = False

    async def wait(self) -> None:
        self.event = self.event or asyncio.Event()
        self.arrived += 1
        if self.arrived >= self.parties:
            self.released_together = True
            self.event.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), self.timeout)


@dataclass
class RecordingSink:
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    record_file: Path | None = None
    default_reply: str = "250 OK"
    pipelining: bool = True  # advertise PIPELINING (RFC 2920), as Postfix and most relays do
    replies: dict[str, list[str]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (recipient, reply)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._protocols: set[SMTP] = set()
        self._barriers: dict[int, Barrier] = {}
        self._per_connection: dict[int, int] = {}  # id(session) -> messages accepted

    # -- making clients meet

    def hold_at(self, *steps: int, parties: int = 2, timeout: float = 10.0) -> None:
        """Hold the reply to the n-th message of a connection (n in `steps`) until `parties`
        connections have reached their n-th message (or `timeout`): with one connection per
        worker, the workers then go on from the same point at the same moment."""
        self._barriers = {step: Barrier(parties, timeout) for step in steps}

    def met_at(self, step: int) -> bool:
        """Whether every party reached `step` (rather than the wait timing out)."""
        barrier = self._barriers.get(step)
        return barrier is not None and barrier.released_together

    # -- replies

    def reply_for(self, address: str) -> str:
        with self._lock:
            queue = self.replies.get(address.lower())
            if not queue:
                return self.default_reply
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def set_replies(self, address: str, *replies: str) -> None:
        with self._lock:
            self.replies[address.lower()] = list(replies)

    # -- recording

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
            if self.record_file is not None:
                with self.record_file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(delivery)) + "\n")

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.deliveries)

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def per_recipient(self) -> Counter:
        return Counter(d.recipient for d in self.snapshot())

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- server

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> RecordingSink:
        """Listen (again) on `port`; retried briefly while the port is still held."""
        if self._controller is not None:
            return self
        for attempt in range(50):
            controller = self._new_controller()
            try:
                controller.start()
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        self._controller = controller
        return self

    def _new_controller(self) -> Controller:
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                if sink.pipelining:
                    responses.insert(-1, "250-PIPELINING")
                return responses

            async def handle_RCPT(self, server, session, envelope, address, options):
                reply = sink.reply_for(address)
                if reply.startswith("2"):
                    envelope.rcpt_tos.append(address)
                else:
                    with sink._lock:
                        sink.refused.append((address, reply))
                return reply

            async def handle_DATA(self, server, session, envelope):
                data = envelope.original_content or b""
                for recipient in envelope.rcpt_tos:
                    sink._record(parse_delivery(envelope.mail_from, recipient, data))
                number = sink._per_connection.get(id(session), 0) + 1
                sink._per_connection[id(session)] = number
                if (barrier := sink._barriers.get(number)) is not None:
                    await barrier.wait()
                return "250 2.0.0 Ok: queued"

        class TrackingController(Controller):
            def factory(self):
                protocol = super().factory()
                sink._protocols.add(protocol)
                return protocol

        return TrackingController(
            Handler(),
            hostname=self.host,
            port=self.port,
            enable_SMTPUTF8=True,
            data_size_limit=None,
        )

    def stop(self) -> None:
        """Stop listening and drop every open connection (RST), like a crash."""
        controller, self._controller = self._controller, None
        if controller is None:
            return

        def abort_all() -> None:
            for protocol in list(self._protocols):
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()
            self._protocols.clear()

        controller.loop.call_soon_threadsafe(abort_all)
        controller.stop()

    def __enter__(self) -> RecordingSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A recording SMTP sink on loopback.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, help="append one JSON line per message here")
    args = parser.parse_args()
    sink = RecordingSink(port=args.port, record_file=args.record).start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
