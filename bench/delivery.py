"""Sending a campaign: the project's worker against plain smtplib, to the same local SMTP sink.

A campaign of 20,000 recipients (bulk inserts; English and French; ~3 KB of Markdown with merge
fields: first name, session, a loop over each recipient's upcoming deadlines) is sent by real
`flask delivery worker` processes (FLASK_CONFIG=production, DELIVERY_RATE=0, everything else at
its default) to Postfix's `smtp-sink` (Debian package `postfix`; an aiosmtpd sink in another
process when it is missing). Measured in the same run, just before each worker run: the baseline,
the same rendered message as prebuilt bytes sent with `smtplib.SMTP.sendmail` over one connection
to the same sink. Runs: one worker on SQLite, one worker on PostgreSQL, two workers on PostgreSQL
(a scratch database `bench_delivery_<pid>` next to DATABASE_URL_TEST, dropped afterwards).

Goals: one worker >= 70 % of the baseline (SQLite and PostgreSQL); two workers >= 1.6x one worker
(PostgreSQL); peak RSS of a worker sending to 100,000 recipients < 300 MB (`--large`).

    python bench/delivery.py [--recipients 20000] [--runs 1] [--no-sqlite] [--no-postgres]
                             [--sink auto|smtp-sink|aiosmtpd] [--profile DIR]
    python bench/delivery.py --large [--recipients 100000]

Install the sink with `DEBIAN_FRONTEND=noninteractive apt-get install -y postfix` (only the
`smtp-sink` program is used; the Postfix service need not run).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, exists, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.calendar.loader import load_calendar  # noqa: E402
from outreach.calendar.models import UPRSession  # noqa: E402
from outreach.campaigns import lifecycle  # noqa: E402
from outreach.campaigns.models import Campaign, CampaignVariant  # noqa: E402
from outreach.contacts.models import Contact, ContactCountry  # noqa: E402
from outreach.contacts.validation import hash_email_key  # noqa: E402
from outreach.core.un_members import UN_MEMBER_STATES  # noqa: E402
from outreach.delivery.models import OutboxMessage  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.segments.models import Segment  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = f"bench_delivery_{os.getpid()}"  # runs at the same time stay apart
FLASK = ROOT / ".venv" / "bin" / "flask"
SMTP_SINK = "/usr/sbin/smtp-sink"
GOAL_ONE = 0.70
GOAL_TWO = 1.6
GOAL_RSS_MB = 300
CHUNK = 10_000
MARK_GRACE = 15.0  # seconds allowed, once every row is final, to mark the campaign sent
SETTINGS = {  # the worker's environment: production settings, no throttle
    "FLASK_CONFIG": "production",
    "FLASK_SKIP_DOTENV": "1",
    "SECRET_KEY": "bench-delivery-secret-key-not-for-production",
    "PUBLIC_BASE_URL": "https://outreach.example.org",
    "ORGANISATION_NAME": "UPR Info",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_DOMAIN": "mail.example.org",
    "MAIL_DEFAULT_SENDER": "UPR Info <news@example.org>",
    "MAIL_SUPPRESS_SEND": "0",
    "DELIVERY_RATE": "0",
    "DELIVERY_HOURLY_LIMIT": "0",
    "PYTHONUNBUFFERED": "1",
}
FIRST = ("Ana", "Ben", "Chloé", "Diego", "Emma", "Fatou", "Grace", "Hugo", "Inès", "Jean",
         "Kofi", "Léna", "Mateo", "Nadia", "Oleg", "Priya", "Rosa", "Sofía", "Tenzin", "Yusuf")
LAST = ("Abbott", "Banda", "Castillo", "Diallo", "Evans", "Fontaine", "García", "Horvat",
        "Ibrahim", "Johnson", "Kowalski", "Lambert", "Mensah", "Novak", "Okafor", "Petrov")

BODY_EN = """Dear {{ contact.first_name }},

The **{{ session.number }}th session** of the Working Group on the Universal Periodic Review
meets in {{ session.location }} {{ session.dates }}. This letter sums up what civil society
organisations, national human rights institutions and other stakeholders can do before, during
and after the session, and the dates that matter for the countries you work on.

## Your upcoming deadlines

{% for d in upcoming_deadlines %}
- **{{ d.label }}** (session {{ d.session }}): {{ d.date }}{% if d.states %},
  for {{ d.states|join(", ") }}{% endif %}
{% else %}
- No deadline concerns your countries in the next 90 days.
{% endfor %}

## Before the session

1. **Stakeholder submissions.** Submit through the OHCHR online system before the deadline;
   joint submissions carry more weight and are summarised in the stakeholders' report.
2. **Advocacy with recommending States.** Permanent missions in Geneva prepare their
   recommendations weeks ahead: share short fact sheets with concrete, measurable requests.
3. **Pre-sessions.** Four weeks before the Working Group, pre-sessions give recommending States
   a chance to hear national stakeholders directly. Apply early: places are limited.

| Step | Who | When |
|---|---|---|
| Written submission | NGOs, NHRIs | about six months before |
| Pre-session statement | national stakeholders | one month before |
| Lobbying in Geneva | coalitions | the weeks before the review |

## During and after the review

The review is webcast live. The State under review answers recommendations in the outcome
report, adopted at the Human Rights Council session that follows; stakeholders may take the
floor there. After the review, mid-term reports and follow-up with the national mechanism
keep recommendations alive until the next cycle.

## Resources

- Our guide to the UPR for civil society, in English, French and Spanish.
- The calendar of sessions with every deadline in Geneva time.
- Past newsletters in the [archive]({{ archive_url }}).

Thank you for your work, {{ contact.first_name }}. Reply to this message if you have questions.

*{{ organisation_name }}*
"""

BODY_FR = """Chère, cher {{ contact.first_name }},

La **{{ session.number }}e session** du Groupe de travail sur l'Examen périodique universel se
tient à {{ session.location }} {{ session.dates }}. Cette lettre résume ce que les organisations
de la société civile, les institutions nationales des droits de l'homme et les autres parties
prenantes peuvent faire avant, pendant et après la session, et les dates qui comptent pour les
pays sur lesquels vous travaillez.

## Vos prochaines échéances

{% for d in upcoming_deadlines %}
- **{{ d.label }}** (session {{ d.session }}) : {{ d.date }}{% if d.states %},
  pour {{ d.states|join(", ") }}{% endif %}
{% else %}
- Aucune échéance ne concerne vos pays dans les 90 prochains jours.
{% endfor %}

## Avant la session

1. **Contributions des parties prenantes.** Soumettez-les par le système en ligne du HCDH avant
   la date limite ; les contributions conjointes pèsent davantage.
2. **Plaidoyer auprès des États.** Les missions permanentes à Genève préparent leurs
   recommandations des semaines à l'avance : partagez des fiches courtes et concrètes.
3. **Pré-sessions.** Quatre semaines avant le Groupe de travail, les pré-sessions permettent aux
   États d'entendre directement les acteurs nationaux. Inscrivez-vous tôt.

| Étape | Qui | Quand |
|---|---|---|
| Contribution écrite | ONG, INDH | environ six mois avant |
| Déclaration en pré-session | acteurs nationaux | un mois avant |
| Plaidoyer à Genève | coalitions | les semaines précédant l'examen |

## Pendant et après l'examen

L'examen est retransmis en direct. L'État examiné répond aux recommandations dans le rapport
final, adopté à la session suivante du Conseil des droits de l'homme ; les parties prenantes
peuvent y prendre la parole. Après l'examen, les rapports à mi-parcours et le suivi avec le
mécanisme national font vivre les recommandations jusqu'au cycle suivant.

## Ressources

- Notre guide de l'EPU pour la société civile, en anglais, en français et en espagnol.
- Le calendrier des sessions avec chaque échéance à l'heure de Genève.
- Les lettres précédentes dans les [archives]({{ archive_url }}).

Merci pour votre travail, {{ contact.first_name }}. Répondez à ce message pour toute question.

*{{ organisation_name }}*
"""
SUBJECTS = {
    "en": "UPR {{ session.number }}: your deadlines, {{ contact.first_name }}",
    "fr": "EPU {{ session.number }} : vos échéances, {{ contact.first_name }}",
}


# -- the sink


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_aiosmtpd_sink(port: int, log_path: str | None = None) -> None:
    """The fallback sink (run in its own process): accept everything; with `log_path`, write each
    envelope sender there (what bench/scale.py counts)."""
    from aiosmtpd.controller import Controller

    log = open(log_path, "ab", buffering=0) if log_path else None  # noqa: SIM115  (process life)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if log is not None:
                log.write(envelope.mail_from.encode() + b"\n")
            return "250 2.0.0 Ok"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, data_size_limit=None)
    controller.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    finally:
        controller.stop()


@dataclass
class Sink:
    process: subprocess.Popen
    kind: str
    port: int
    log: Path | None = None  # the envelope senders received, when asked for

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_sink(kind: str, port: int, log: Path | None = None) -> Sink:
    """Postfix's smtp-sink (or the aiosmtpd fallback) on `port`; with `log`, it records each
    message's envelope sender there."""
    if kind == "auto":
        kind = "smtp-sink" if os.access(SMTP_SINK, os.X_OK) else "aiosmtpd"
    output = subprocess.DEVNULL
    if kind == "smtp-sink":
        command = [SMTP_SINK, *(["-v"] if log else []), f"127.0.0.1:{port}", "1000"]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]  # smtp-sink refuses to keep root privileges
        if log:
            output = log.open("wb")  # smtp-sink -v prints each command, MAIL FROM included
    else:
        command = [sys.executable, __file__, "--serve-sink", str(port)]
        command += [str(log)] if log else []
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    if output is not subprocess.DEVNULL:
        output.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.recv(100)
            return Sink(process, kind, port, log)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the {kind} sink did not start on port {port}")


# -- data


def generate_contacts(conn, count: int, seed: int = 7) -> None:
    """`count` active staff-added contacts (60 % English, 40 % French), 1-3 countries each."""
    rng = random.Random(seed)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    contacts, countries = [], []
    for contact_id in range(1, count + 1):
        primary = rng.choice(UN_MEMBER_STATES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"c{contact_id}.{last.lower()}@bench.example.org".replace("í", "i")
        contacts.append({
            "id": contact_id, "email": email, "email_key": email,
            "email_hash": hash_email_key(email), "first_name": first, "last_name": last,
            "organisation_id": None, "type": "ngo", "role_title": "",
            "language": "fr" if rng.random() < 0.4 else "en", "country_code": primary,
            "status": "active", "notes": "", "created_at": now, "updated_at": now,
        })
        countries.append({"contact_id": contact_id, "country_code": primary, "is_primary": True})
        extra = rng.choices((0, 1, 2), weights=(60, 30, 10))[0]
        for code in set(rng.sample(UN_MEMBER_STATES, extra)) - {primary}:
            countries.append({"contact_id": contact_id, "country_code": code, "is_primary": False})
        if len(contacts) >= CHUNK or contact_id == count:
            conn.execute(insert(Contact.__table__), contacts)
            conn.execute(insert(ContactCountry.__table__), countries)
            contacts.clear()
            countries.clear()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"),
                     {"n": count})


def bench_app(url: str):
    """The benchmark's own app (building data, the baseline message), set up like the workers."""
    same = ("PUBLIC_BASE_URL", "ORGANISATION_NAME", "MAIL_DOMAIN", "MAIL_DEFAULT_SENDER")
    return create_app(
        "testing", SQLALCHEMY_DATABASE_URI=url, **{key: SETTINGS[key] for key in same}
    )


def populate(app, recipients: int) -> None:
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_calendar(db.session)
        db.session.commit()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            generate_contacts(conn, recipients)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        print(f"  {recipients:,} contacts inserted in {time.perf_counter() - started:.1f} s")
        db.session.remove()


def new_campaign(app, label: str) -> tuple[int, float]:
    """A campaign to everybody, started and enqueued as the scheduler does; (id, enqueue s)."""
    from outreach.delivery.scheduler import start_due_campaigns

    with app.app_context():
        session = db.session
        upcoming = session.scalar(
            select(UPRSession).where(UPRSession.wg_start >= date.today())
            .order_by(UPRSession.wg_start).limit(1)
        ) or session.scalar(select(UPRSession).order_by(UPRSession.number.desc()).limit(1))
        campaign = Campaign(
            name=f"Benchmark {label}", topic="newsletter", sender_name="UPR Info",
            sender_email="news@example.org", default_language="en", session_id=upcoming.id,
            segments=[Segment(name=f"Everybody {label}", filters={})],
            variants=[
                CampaignVariant(language="en", subject=SUBJECTS["en"], body_markdown=BODY_EN),
                CampaignVariant(language="fr", subject=SUBJECTS["fr"], body_markdown=BODY_FR),
            ],
        )
        session.add(campaign)
        session.flush()
        lifecycle.send_now(session, campaign)
        session.commit()
        campaign_id = campaign.id
        started = time.perf_counter()
        assert start_due_campaigns(session) == [campaign_id]
        enqueue_seconds = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE outbox"))
        session.remove()
    return campaign_id, enqueue_seconds


def baseline_message(app, campaign_id: int) -> tuple[bytes, str, str]:
    """The campaign's message for its first recipient, built by the project's own code."""
    from outreach.campaigns.rendering import PreparedCampaign, recipient_for
    from outreach.delivery.message import CampaignHeaders, LinkBuilder, MessageFactory
    from outreach.subscriptions.services import preferences_token, unsubscribe_token

    with app.app_context():
        session = db.session
        campaign = session.get(Campaign, campaign_id)
        contact = session.scalar(select(Contact).order_by(Contact.id).limit(1))
        links = LinkBuilder(app.config)
        token = unsubscribe_token(contact)
        rendered = PreparedCampaign.prepare(session, campaign).render(
            recipient_for(contact),
            unsubscribe_url=links.unsubscribe(token),
            preferences_url=links.preferences(preferences_token(contact), contact.language),
        )
        factory = MessageFactory(CampaignHeaders.for_campaign(campaign, app.config), app.config)
        built = factory.build(
            rendered, to_email=contact.email, to_name=contact.full_name, outbox_id=1,
            unsubscribe_url=links.unsubscribe(token), unsubscribe_token=token,
        )
        session.remove()
    return built.data, built.envelope_from, built.recipient


@dataclass
class Baseline:
    rate: float  # messages per second
    cpu_us: float  # CPU of the sending process per message
    sink_cpu_us: float  # CPU of the sink per message


def run_baseline(sink: Sink, message: tuple[bytes, str, str], count: int) -> Baseline:
    """Prebuilt bytes, `sendmail`, one connection (connect included)."""
    data, sender, recipient = message
    sink_cpu, cpu, started = sink.cpu(), time.process_time(), time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", sink.port)
    for _ in range(count):
        smtp.sendmail(sender, [recipient], data)
    smtp.quit()
    elapsed = time.perf_counter() - started
    return Baseline(
        count / elapsed,
        (time.process_time() - cpu) * 1e6 / count,
        (sink.cpu() - sink_cpu) * 1e6 / count,
    )


# -- workers


@dataclass
class WorkerRun:
    label: str
    workers: int
    messages: int
    wall_seconds: float  # from starting the processes until no row is left to send
    send_seconds: float  # from the first claim until the campaign is sent
    peak_rss_mb: list[float]
    per_worker: dict[str, int] = field(default_factory=dict)
    cpu_us: float = 0.0  # CPU of the workers per message, from the first claim on
    sink_cpu_us: float = 0.0
    enqueue_seconds: float = 0.0
    baseline: Baseline | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.send_seconds

    @property
    def wall_rate(self) -> float:
        return self.messages / self.wall_seconds


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the highest resident set size of the process so far."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def worker_env(url: str, port: int, batch_size: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DELIVERY_", "MAIL_", "FLASK_", "DATABASE_URL"))}
    env.update(SETTINGS)
    env.update(DATABASE_URL=url, MAIL_PORT=str(port))
    if batch_size:
        env["DELIVERY_BATCH_SIZE"] = str(batch_size)
    return env


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM (the worker finishes its message and exits), SIGKILL if it lingers."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_workers(
    url: str, sink: Sink, campaign_id: int, workers: int, label: str,
    batch_size: int | None = None, profile_dir: Path | None = None, timeout: float = 1800,
) -> WorkerRun:
    env = worker_env(url, sink.port, batch_size)
    engine = create_engine(url)
    processes: list[subprocess.Popen] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.callback(stop_processes, processes)
        logs = []
        for number in range(1, workers + 1):
            command = [str(FLASK), "--app", "wsgi", "delivery", "worker", "--name", f"w{number}"]
            if profile_dir is not None:
                output = profile_dir / f"{label}-w{number}.prof"
                command = [sys.executable, "-m", "cProfile", "-o", str(output), *command]
            logs.append(stack.enter_context(tempfile.TemporaryFile()))
            processes.append(subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=logs[-1], stderr=subprocess.STDOUT
            ))
        status = ""
        peaks = [0.0] * workers
        cpu_start: list[float] = []  # workers and sink, once the first row is claimed
        claimed = (
            select(OutboxMessage.id)
            .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status != "queued")
            .limit(1)
        )
        open_rows = select(
            exists().where(
                OutboxMessage.campaign_id == campaign_id,
                OutboxMessage.status.in_(("queued", "sending")),
            )
        )
        all_final_at = None  # when no row was left to send (the campaign should be sent then)
        while status != "sent":
            if all_final_at is not None and time.perf_counter() - all_final_at > MARK_GRACE:
                break
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{label}: not sent after {timeout:.0f} s")
            for index, process in enumerate(processes):
                if process.poll() is not None:
                    logs[index].seek(0)
                    tail = logs[index].read()[-3000:].decode(errors="replace")
                    raise SystemExit(f"{label}: worker {index + 1} exited\n{tail}")
                peaks[index] = max(peaks[index], peak_rss_mb(process.pid))
            time.sleep(0.1)
            with engine.connect() as conn:
                status = conn.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
                if not cpu_start and conn.scalar(claimed) is not None:
                    cpu_start = [*(cpu_seconds(p.pid) for p in processes), sink.cpu()]
                if cpu_start and all_final_at is None and not conn.scalar(open_rows):
                    all_final_at = time.perf_counter()
        wall = (all_final_at or time.perf_counter()) - started
        cpu_end = [*(cpu_seconds(p.pid) for p in processes), sink.cpu()]
        peaks = [max(peak, peak_rss_mb(p.pid)) for peak, p in zip(peaks, processes, strict=True)]
    with engine.connect() as conn:
        first_claim, last_outcome = conn.execute(
            select(func.min(OutboxMessage.claimed_at), func.max(OutboxMessage.updated_at))
            .where(OutboxMessage.campaign_id == campaign_id)
        ).one()
        finished = conn.scalar(select(Campaign.finished_at).where(Campaign.id == campaign_id))
        per_worker = dict(conn.execute(
            select(OutboxMessage.claimed_by, func.count())
            .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "sent")
            .group_by(OutboxMessage.claimed_by)
        ).tuples().all())
    engine.dispose()
    if status != "sent":
        print(f"  WARNING {label}: every row is final but no worker marked the campaign sent "
              f"within {MARK_GRACE:.0f} s; timed until the last outcome was recorded")
    first_claim = as_utc(first_claim)
    finished = as_utc(finished) if status == "sent" else as_utc(last_outcome)
    messages = sum(per_worker.values())
    used = [end - start for start, end in zip(cpu_start or cpu_end, cpu_end, strict=True)]
    return WorkerRun(
        label, workers, messages, wall, (finished - first_claim).total_seconds(), peaks,
        per_worker, cpu_us=sum(used[:-1]) * 1e6 / messages, sink_cpu_us=used[-1] * 1e6 / messages,
    )


def as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite through a bare engine: naive UTC text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# -- the runs


def measure(app, url: str, sink: Sink, message_count: int, args, label: str, workers: int,
            profile_dir: Path | None) -> WorkerRun:
    campaign_id, enqueue_seconds = new_campaign(app, label)
    message = baseline_message(app, campaign_id)
    baseline = run_baseline(sink, message, min(message_count, 20_000))
    run = run_workers(url, sink, campaign_id, workers, label, args.batch_size, profile_dir)
    run.enqueue_seconds, run.baseline = enqueue_seconds, baseline
    print(f"  {label}: baseline {baseline.rate:,.0f} msgs/s (CPU per message: sender "
          f"{baseline.cpu_us:.0f} us, sink {baseline.sink_cpu_us:.0f} us)\n"
          f"    worker{'s' * (workers > 1)}: {run.messages:,} messages "
          f"({len(message[0]):,} bytes for the first) in {run.send_seconds:.1f} s = "
          f"{run.rate:,.0f} msgs/s ({run.wall_rate:,.0f} counting process start-up, "
          f"{run.wall_seconds:.1f} s; CPU per message: worker{'s' * (workers > 1)} "
          f"{run.cpu_us:.0f} us, sink {run.sink_cpu_us:.0f} us)\n"
          f"    enqueue {enqueue_seconds:.1f} s; per worker {run.per_worker}; peak RSS "
          f"{', '.join(f'{mb:.0f}' for mb in run.peak_rss_mb)} MB; load {load()}")
    if run.messages != message_count:
        raise SystemExit(f"{label}: {run.messages} sent, {message_count} expected")
    return run


def postgres_database() -> tuple[str, object] | None:
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    except Exception as exc:
        print(f"postgresql: not reachable at {base.render_as_string()} ({type(exc).__name__})")
        admin.dispose()
        return None
    return base.set(database=BENCH_DATABASE).render_as_string(hide_password=False), admin


def drop_postgres(admin) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
    admin.dispose()


def load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def machine() -> str:
    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, load average {load()}")


def run_standard(args, sink: Sink) -> int:
    runs: dict[str, list[WorkerRun]] = {}
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    for repeat in range(args.runs):
        print(f"run {repeat + 1} of {args.runs} ({machine()})")
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'bench_delivery.db'}"
                app = bench_app(url)
                print(" SQLite")
                populate(app, args.recipients)
                runs.setdefault("sqlite, 1 worker", []).append(measure(
                    app, url, sink, args.recipients, args, "sqlite-1", 1, profile_dir))
                with app.app_context():
                    db.engine.dispose()
        if not args.no_postgres and (found := postgres_database()) is not None:
            url, admin = found
            try:
                app = bench_app(url)
                with app.app_context():
                    version = db.session.scalar(text("SHOW server_version"))
                print(f" PostgreSQL {version}")
                populate(app, args.recipients)
                for workers in (1, 2):
                    runs.setdefault(f"postgresql, {workers} worker{'s' * (workers > 1)}",
                                    []).append(measure(app, url, sink, args.recipients, args,
                                                       f"postgresql-{workers}", workers,
                                                       profile_dir))
                with app.app_context():
                    db.engine.dispose()
            finally:
                drop_postgres(admin)
    return report(runs)


def report(runs: dict[str, list[WorkerRun]]) -> int:
    """Medians over the runs; the goals are judged on the sending rate (first claim to sent)."""
    print()
    header = (f"{'run':<22} {'baseline':>9} {'worker':>8} {'ratio':>6} {'w/ start-up':>12} "
              f"{'CPU us/msg':>11} {'base CPU':>9} {'RSS MB':>7}  goal")
    print(header)
    print("-" * len(header))
    failures = []
    medians = {}
    for label, results in runs.items():
        def median(values) -> float:
            return statistics.median(list(values))

        ratio = median(r.rate / r.baseline.rate for r in results)
        medians[label] = median(r.rate for r in results)
        goal = ""
        if label.endswith("1 worker"):
            goal = f">= {GOAL_ONE:.0%} of baseline: {'met' if ratio >= GOAL_ONE else 'MISSED'}"
            if ratio < GOAL_ONE:
                failures.append(label)
        print(f"{label:<22} {median(r.baseline.rate for r in results):>9,.0f} "
              f"{medians[label]:>8,.0f} {ratio:>6.2f} "
              f"{median(r.wall_rate for r in results):>12,.0f} "
              f"{median(r.cpu_us for r in results):>11,.0f} "
              f"{median(r.baseline.cpu_us for r in results):>9,.0f} "
              f"{max(max(r.peak_rss_mb) for r in results):>7.0f}  {goal}")
    one, two = medians.get("postgresql, 1 worker"), medians.get("postgresql, 2 workers")
    if one and two:
        scale = two / one
        verdict = "met" if scale >= GOAL_TWO else "MISSED"
        print(f"two workers / one worker on PostgreSQL: {scale:.2f}x (goal >= {GOAL_TWO}x: "
              f"{verdict})")
        if scale < GOAL_TWO:
            failures.append("two workers")
    print("msgs/s. 'worker': from the first claim until the campaign is marked sent; 'w/ start-up':"
          " from starting the processes. CPU: of the worker process(es) per message from the first"
          " claim on; 'base CPU': of the baseline's sending process per message.")
    return 1 if failures else 0


def run_large(args, sink: Sink) -> int:
    """Peak RSS of one worker sending to `--recipients` (default 100,000) recipients."""
    found = None if args.no_postgres else postgres_database()
    folder = tempfile.TemporaryDirectory()
    if found is not None:
        url, admin = found
        label = "postgresql"
    else:
        url, admin, label = f"sqlite:///{Path(folder.name) / 'bench_delivery.db'}", None, "sqlite"
    print(f"large run on {label}: {args.recipients:,} recipients ({machine()})")
    try:
        app = bench_app(url)
        populate(app, args.recipients)
        run = measure(app, url, sink, args.recipients, args, f"{label}-large", 1, None)
        with app.app_context():
            db.engine.dispose()
    finally:
        if admin is not None:
            drop_postgres(admin)
        folder.cleanup()
    peak = max(run.peak_rss_mb)
    verdict = "met" if peak < GOAL_RSS_MB else "MISSED"
    print(f"\npeak RSS of the worker: {peak:.0f} MB for {run.messages:,} messages "
          f"(goal < {GOAL_RSS_MB} MB: {verdict}); {run.rate:,.0f} msgs/s")
    return 0 if peak < GOAL_RSS_MB else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    parser.add_argument("--large", action="store_true", help="peak RSS at 100,000 recipients")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--batch-size", type=int, help="DELIVERY_BATCH_SIZE (default: config)")
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each worker into DIR")
    parser.add_argument("--serve-sink", nargs="+", metavar="PORT [LOG]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_aiosmtpd_sink(int(args.serve_sink[0]), *args.serve_sink[1:2])
        return 0
    args.recipients = args.recipients or (100_000 if args.large else 20_000)
    sink = start_sink(args.sink, free_port())
    where = shutil.which(SMTP_SINK) if sink.kind == "smtp-sink" else "aiosmtpd (fallback)"
    print(f"sink: {sink.kind} on 127.0.0.1:{sink.port} ({where})")
    try:
        return run_large(args, sink) if args.large else run_standard(args, sink)
    finally:
        stop_processes([sink.process])


if __name__ == "__main__":
    raise SystemExit(main())
