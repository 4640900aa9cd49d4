"""A local SMTP server (aiosmtpd) that keeps every message it receives, for development only."""

from __future__ import annotations

import threading

from aiosmtpd.controller import Controller

from outreach.devmail.store import MailStore


class CatchAllHandler:
    def __init__(self, store: MailStore):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        self.store.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_catcher(store: MailStore, host: str, port: int) -> Controller:
    controller = Controller(CatchAllHandler(store), hostname=host, port=port)
    controller.start()
    return controller


def serve_forever(store: MailStore, host: str, port: int) -> None:
    controller = start_catcher(store, host, port)
    try:
        threading.Event().wait()
    finally:
        controller.stop()
