"""Real `flask` processes of the delivery engine, configured only through the environment.

Every process writes its output to a log file (shown in assertion messages); `ProcessGroup` kills
whatever is still running when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLASK = ROOT / ".venv" / "bin" / "flask"

# Settings every delivery process of these tests gets (values are strings: it is an environment).
BASE_SETTINGS = {
    "FLASK_CONFIG": "production",  # as deployed; development turns on SMTP debug output
    "FLASK_SKIP_DOTENV": "1",
    "SECRET_KEY": "reliability-tests-secret-key",
    "PUBLIC_BASE_URL": "https://outreach.example.org",
    "MAIL_DOMAIN": "mail.example.org",
    "MAIL_DEFAULT_SENDER": "UPR Info <news@example.org>",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_SUPPRESS_SEND": "0",
    "MAIL_USE_TLS": "0",
    "MAIL_USE_SSL": "0",
    "DELIVERY_RATE": "0",
    "DELIVERY_HOURLY_LIMIT": "0",
    "DELIVERY_BATCH_SIZE": "20",
    "DELIVERY_MAX_ATTEMPTS": "5",
    "DELIVERY_RETRY_BASE_SECONDS": "1",
    "DELIVERY_LEASE_SECONDS": "3",
    "DELIVERY_MAX_CONSECUTIVE_ERRORS": "50",
    "DELIVERY_SMTP_TIMEOUT": "5",
    "DELIVERY_POLL_SECONDS": "0.2",
    "DELIVERY_SCHEDULER_SECONDS": "1",
    "PYTHONUNBUFFERED": "1",
}
# Variables of the calling shell that must not leak into the processes.
DROPPED = ("DATABASE_URL", "DATABASE_URL_TEST", "FLASK_APP", "FLASK_DEBUG", "FLASK_CONFIG")


def delivery_environment(database_url: str, mail_port: int, **settings: object) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DROPPED and not key.startswith(("DELIVERY_", "MAIL_"))
    }
    env.update(BASE_SETTINGS)
    env["DATABASE_URL"] = database_url
    env["MAIL_PORT"] = str(mail_port)
    env.update({key: str(value) for key, value in settings.items()})
    return env


@dataclass
class FlaskProcess:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to release anything."""
        if self.running():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM (finish the current message), then SIGKILL after `timeout`."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def log(self, last: int = 3000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-last:]


@dataclass
class ProcessGroup:
    """Starts flask processes and guarantees they are gone when the block ends."""

    directory: Path
    env: dict[str, str]
    processes: list[FlaskProcess] = field(default_factory=list)

    def start(self, name: str, *args: str, **extra_env: object) -> FlaskProcess:
        log_path = self.directory / f"{name}.log"
        env = {**self.env, **{key: str(value) for key, value in extra_env.items()}}
        command = [str(FLASK), "--app", "wsgi", *args]
        log = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        process = FlaskProcess(name, command, log_path, popen)
        self.processes.append(process)
        return process

    def worker(self, name: str, *args: str, **extra_env: object) -> FlaskProcess:
        return self.start(name, "delivery", "worker", "--name", name, *args, **extra_env)

    def scheduler(self, name: str, **extra_env: object) -> FlaskProcess:
        return self.start(name, "scheduler", "--name", name, **extra_env)

    def run(self, name: str, *args: str, timeout: float = 30) -> FlaskProcess:
        """Start a command and wait for it to exit (killed after `timeout`)."""
        process = self.start(name, *args)
        try:
            process.process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}):\n{p.log()}" for p in self.processes)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.running():
                process.kill()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
