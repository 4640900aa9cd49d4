"""gunicorn settings for the web app: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be changed from the environment (GUNICORN_*, or gunicorn's own GUNICORN_CMD_ARGS).
See docs/operations.md.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# Restart a worker after this many requests (0: never). Each restart empties that worker's page
# cache, so keep it well above what a worker serves in an hour if you turn it on.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = max_requests // 10
# The app is loaded once in the master and forked: faster start, less memory.
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "": no access log
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """Each worker opens its own database connections (none inherited from the master)."""
    from outreach.extensions import db

    with worker.app.wsgi().app_context():
        db.engine.dispose(close=False)


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR, forget the metrics files of a worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
