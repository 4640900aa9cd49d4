"""Running in production: health and readiness checks, Prometheus metrics, JSON logs, proxy headers.

`init_app(app)` sets up logging and the proxy fix; the blueprint in `views` serves `/healthz`,
`/readyz` and `/metrics`. See docs/operations.md.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from outreach.ops.logs import configure_logging

    configure_logging(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))
    hops = {
        name: app.config.get(f"PROXY_FIX_X_{name.upper()}", 0)
        for name in ("for", "proto", "host", "prefix")
    }
    if any(hops.values()):
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=hops["for"],
            x_proto=hops["proto"],
            x_host=hops["host"],
            x_prefix=hops["prefix"],
        )
