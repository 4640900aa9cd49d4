"""Bounce processing: real DSN/ARF samples parsed, matched to outbox rows, recorded and acted on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach.campaigns.models import Campaign
from outreach.core.database import utcnow
from outreach.delivery.bounces import parse
from outreach.delivery.bounces.match import verp_ids
from outreach.delivery.bounces.services import Tally, process_message
from outreach.delivery.bounces.sources import ImapSource, MaildirSource, SourceError
from outreach.delivery.models import Bounce, OutboxMessage
from outreach.subscriptions.models import ConsentRecord, Subscription, Suppression
from tests.factories import make_contact

DATA = Path(__file__).parent / "data" / "bounces"
DOMAIN = "outreach.example.org"

# file -> (outbox id in its VERP address, recipient, Message-ID of the original or None)
SAMPLES = {
    "postfix_user_unknown.eml": (
        1001, "amina.diallo@ngo-example.org", "<o1001.3f9a1c2e7b5d@outreach.example.org>"),
    "exim_mailbox_full.eml": (
        1002, "jean.dupont@droits-example.fr", "<o1002.8c0e55a1d2f4@outreach.example.org>"),
    "gmail_address_not_found.eml": (
        1003, "k.mensah@civil-society-example.org", "<o1003.51b7d0c4e9a2@outreach.example.org>"),
    "exchange_online_ndr.eml": (
        1004, "lucia.garcia@defensoria-example.org", "<o1004.e27a40c9b813@outreach.example.org>"),
    "sendmail_policy_block.eml": (
        1005, "m.okafor@mission-example.int", "<o1005.0d4c9e2b7a61@outreach.example.org>"),
    "postfix_quota_4.2.2.eml": (
        1006, "s.rahman@ngo-example.net", "<o1006.77f1b3c9d0e2@outreach.example.org>"),
    "postfix_delayed.eml": (
        1007, "t.nguyen@slow-example.org", "<o1007.aa93f6e0c514@outreach.example.org>"),
    "yahoo_arf_complaint.eml": (
        1008, "p.silva@yahoo.com", "<o1008.4b2e8d1f6a07@outreach.example.org>"),
    "mangled_text_verp.eml": (1009, "ghost@defunct-example.org", None),
    "outlook_out_of_office.eml": (
        1010, "a.haddad@ngo-example.org", "<o1010.c18e2f7a9b30@outreach.example.org>"),
}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


# --- parsing (no database) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "address", "action", "status", "verdict"),
    [
        ("postfix_user_unknown.eml", "dsn", "amina.diallo@ngo-example.org", "failed", "5.1.1",
         "hard"),
        ("exim_mailbox_full.eml", "text", "jean.dupont@droits-example.fr", "failed", "5.2.2",
         "soft"),
        ("gmail_address_not_found.eml", "dsn", "k.mensah@civil-society-example.org", "failed",
         "5.1.1", "hard"),
        ("exchange_online_ndr.eml", "dsn", "lucia.garcia@defensoria-example.org", "failed",
         "5.1.10", "hard"),
        ("sendmail_policy_block.eml", "dsn", "m.okafor@mission-example.int", "failed", "5.7.1",
         "soft"),
        ("postfix_quota_4.2.2.eml", "dsn", "s.rahman@ngo-example.net", "failed", "4.2.2",
         "soft"),
        ("postfix_delayed.eml", "dsn", "t.nguyen@slow-example.org", "delayed", "4.4.1",
         "delayed"),
        ("mangled_text_verp.eml", "text", "ghost@defunct-example.org", "failed", "5.1.1",
         "hard"),
    ],
)
def test_each_bounce_sample_is_parsed_and_classified(name, kind, address, action, status, verdict):
    report = parse.parse_report(sample(name))
    assert report.kind == kind
    assert len(report.recipients) == 1
    recipient = report.recipients[0]
    assert (recipient.address, recipient.action, recipient.status) == (address, action, status)
    assert parse.classify(recipient) == verdict
    assert recipient.diagnostic
    assert report.date is not None
    _, _, message_id = SAMPLES[name]
    assert report.message_ids[:1] == ([message_id] if message_id else [])


def test_the_original_message_id_is_found_in_each_kind_of_third_part():
    # message/rfc822 (Postfix), text/rfc822-headers (Exchange, Sendmail), Gmail's own field,
    # and the copy inlined in a classic Exim text bounce.
    for name in ("postfix_user_unknown.eml", "exchange_online_ndr.eml",
                 "sendmail_policy_block.eml", "gmail_address_not_found.eml",
                 "exim_mailbox_full.eml"):
        assert SAMPLES[name][2] in parse.parse_report(sample(name)).message_ids, name


def test_dsn_details_are_read():
    recipient = parse.parse_report(sample("postfix_user_unknown.eml")).recipients[0]
    assert recipient.smtp_code == 550
    assert recipient.diagnostic.startswith("550 5.1.1 <amina.diallo@ngo-example.org>")
    assert "User unknown in virtual mailbox table" in recipient.diagnostic
    delayed = parse.parse_report(sample("postfix_delayed.eml")).recipients[0]
    assert "Connection timed out" in delayed.diagnostic


def test_arf_complaint_is_parsed():
    report = parse.parse_report(sample("yahoo_arf_complaint.eml"))
    assert report.kind == parse.COMPLAINT
    assert report.feedback_type == "abuse"
    assert [r.address for r in report.recipients] == ["p.silva@yahoo.com"]
    assert "Yahoo!-Mail-Feedback" in report.recipients[0].diagnostic
    assert verp_ids(report.verp_sources, DOMAIN) == [1008]


def test_feedback_reports_that_are_not_complaints_are_ignored():
    raw = sample("yahoo_arf_complaint.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    report = parse.parse_report(raw)
    assert report.kind == parse.IGNORED
    assert "not-spam" in report.problem


def test_auto_reply_is_not_a_bounce():
    assert parse.parse_report(sample("outlook_out_of_office.eml")).kind == parse.AUTOREPLY


def test_garbage_is_unreadable_with_a_reason():
    report = parse.parse_report(sample("garbage.eml"))
    assert report.kind == parse.UNREADABLE
    assert "Not a delivery status notification" in report.problem
    assert "\x00" not in report.snippet
    empty = parse.parse_report(b"  \n")
    assert empty.kind == parse.UNREADABLE and empty.problem == "The message is empty."


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("Sorry, no such user here: <a@b.example.org>", "5.1.1"),
        ("<a@b.example.org>: mailbox unavailable", "5.1.1"),
        ("The address a@b.example.org does not exist.", "5.1.1"),
        ("452 Quota exceeded for a@b.example.org, try later", "4.2.2"),
        ("a@b.example.org: mailbox full", "5.2.2"),
        ("421 a@b.example.org temporarily deferred, greylisted", "4.0.0"),
        ("553 <a@b.example.org> Relay access denied", "5.7.1"),
    ],
)
def test_text_bounces_without_a_report_fall_back_to_patterns(body, status):
    raw = (
        "From: MAILER-DAEMON@mx.b.example.org\nTo: bounces+5@outreach.example.org\n"
        f"Subject: Returned mail\n\nYour message was not delivered.\n{body}\n"
    ).encode()
    report = parse.parse_report(raw)
    assert report.kind == parse.TEXT
    assert report.recipients[0].status == status
    assert report.recipients[0].address == "a@b.example.org"


def test_a_human_reply_to_the_bounce_address_is_not_read_as_a_bounce():
    raw = (
        b"From: Ana <ana@ngo.example.org>\nTo: bounces+5@outreach.example.org\n"
        b"Subject: Re: UPR newsletter\n\nThanks! The page you link to does not exist though.\n"
    )
    report = parse.parse_report(raw)
    assert report.kind == parse.UNREADABLE
    assert verp_ids(report.verp_sources, DOMAIN) == [5]


def test_verp_addresses_only_count_on_our_domain():
    texts = ["bounces+12@other.example.net", "To: <BOUNCES+34@Outreach.Example.org>", "x"]
    assert verp_ids(texts, DOMAIN) == [34]
    assert verp_ids(["bounces+7@xn--bcher-kva.example"], "bücher.example") == [7]


def test_status_codes_in_versions_and_addresses_are_not_taken_for_statuses():
    finding = parse._scan_text(["Exim 4.96.2 at relay 192.0.4.1.2", "550 5.1.1 gone"])
    assert finding.status == "5.1.1"


# --- processing (database) ------------------------------------------------------------------------


@pytest.fixture
def domain(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_DOMAIN", DOMAIN)
    return DOMAIN


def make_campaign(session, name="UPR 52nd session newsletter") -> Campaign:
    campaign = Campaign(name=name, status="sending", started_at=utcnow())
    session.add(campaign)
    session.flush()
    return campaign


def make_row(session, campaign, email, *, row_id=None, message_id=None, contact=None):
    contact = contact or make_contact(session, email)
    row = OutboxMessage(
        id=row_id,
        campaign_id=campaign.id,
        contact_id=contact.id,
        email=email,
        status="sent",
        attempts=1,
        sent_at=utcnow(),
        smtp_code=250,
        smtp_reply="250 2.0.0 Ok: queued",
        message_id=message_id,
    )
    session.add(row)
    session.flush()
    return row


def sample_rows(session) -> dict[str, OutboxMessage]:
    campaign = make_campaign(session)
    return {
        name: make_row(session, campaign, email, row_id=row_id, message_id=message_id)
        for name, (row_id, email, message_id) in SAMPLES.items()
    }


def suppression(session, email) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.email == email))


def bounce_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Bounce))


def test_match_by_message_id_wins_over_verp(db_session, domain):
    campaign = make_campaign(db_session)
    # A decoy with the VERP id of the sample: the Message-ID must decide.
    make_row(db_session, campaign, "decoy@ngo-example.org", row_id=1001, message_id="<x@y.org>")
    row = make_row(db_session, campaign, "amina.diallo@ngo-example.org", row_id=77,
                   message_id=SAMPLES["postfix_user_unknown.eml"][2])
    [bounce] = process_message(db_session, sample("postfix_user_unknown.eml"), source="test")
    assert bounce.outbox_id == row.id
    assert bounce.kind == "hard"


def test_match_by_verp_address(db_session, domain):
    campaign = make_campaign(db_session)
    row = make_row(db_session, campaign, "ghost@defunct-example.org", row_id=1009)
    [bounce] = process_message(db_session, sample("mangled_text_verp.eml"), source="test")
    assert bounce.outbox_id == row.id
    assert (bounce.kind, bounce.status_code) == ("hard", "5.1.1")
    assert "Recipient address rejected: User unknown" in bounce.diagnostic
    assert db_session.get(OutboxMessage, row.id).status == "failed"


def test_match_by_address_takes_the_latest_row(db_session, domain):
    contact = make_contact(db_session, "k.mensah@civil-society-example.org")
    older = make_row(db_session, make_campaign(db_session, "October"), contact.email,
                     contact=contact, message_id="<old@outreach.example.org>")
    newer = make_row(db_session, make_campaign(db_session, "November"), contact.email,
                     contact=contact, message_id="<new@outreach.example.org>")
    assert older.id < newer.id
    [bounce] = process_message(db_session, sample("gmail_address_not_found.eml"), source="test")
    assert bounce.outbox_id == newer.id
    assert bounce.email == "k.mensah@civil-society-example.org"


def test_unmatched_bounce_is_kept_as_unknown_with_the_reason(db_session, domain):
    [bounce] = process_message(db_session, sample("postfix_user_unknown.eml"), source="test")
    assert bounce.kind == "unknown"
    assert bounce.outbox_id is None
    assert bounce.email == "amina.diallo@ngo-example.org"
    assert bounce.status_code == "5.1.1"
    assert "Not matched to a message we sent" in bounce.problem
    assert "<o1001.3f9a1c2e7b5d@outreach.example.org>" in bounce.problem
    assert "bounces+1001@outreach.example.org" in bounce.problem
    assert "Read as a hard bounce (5.1.1)" in bounce.problem
    assert suppression(db_session, "amina.diallo@ngo-example.org") is None


def test_hard_bounce_suppresses_at_once_and_fails_the_row(db_session, domain):
    rows = sample_rows(db_session)
    tally = Tally()
    process_message(db_session, sample("exchange_online_ndr.eml"), source="test", tally=tally)
    row = db_session.get(OutboxMessage, rows["exchange_online_ndr.eml"].id)
    assert row.status == "failed"
    assert row.smtp_code == 550
    assert "RESOLVER.ADR.RecipientNotFound" in row.smtp_reply
    entry = suppression(db_session, "lucia.garcia@defensoria-example.org")
    assert entry is not None and entry.reason == "hard_bounce"
    event = db_session.scalar(select(ConsentRecord).where(
        ConsentRecord.email_hash == entry.email_hash))
    assert (event.action, event.source, event.details["reason"]) == (
        "suppress", "email", "hard_bounce")
    assert tally.line() == (
        "processed=1 hard=1 soft=0 complaints=0 unknown=0 suppressed=1 ignored=0"
    )


def _variant(raw: bytes, old_id: int, new_id: int) -> bytes:
    """The same bounce for another message: another VERP id and Message-ID."""
    return raw.replace(f"bounces+{old_id}@".encode(), f"bounces+{new_id}@".encode()).replace(
        f"<o{old_id}.".encode(), f"<o{new_id}.".encode()
    )


def test_mailbox_full_is_suppressed_only_after_the_limit(db_session, domain):
    contact = make_contact(db_session, "jean.dupont@droits-example.fr")
    raw = sample("exim_mailbox_full.eml")
    tally = Tally()
    for number, row_id in enumerate((2001, 2002, 2003), start=1):
        make_row(db_session, make_campaign(db_session, f"Campaign {number}"), contact.email,
                 contact=contact, row_id=row_id, message_id=f"<o{row_id}.8c0e55a1d2f4@{DOMAIN}>")
        [bounce] = process_message(db_session, _variant(raw, 1002, row_id), source="test",
                                   tally=tally)
        assert (bounce.kind, bounce.status_code, bounce.outbox_id) == ("soft", "5.2.2", row_id)
        assert db_session.get(OutboxMessage, row_id).status == "failed"
        entry = suppression(db_session, contact.email)
        if number < 3:
            assert entry is None, f"suppressed after {number} bounce(s)"
    assert entry is not None and entry.reason == "hard_bounce"
    assert "3 soft bounces" in entry.note
    assert (tally.soft, tally.suppressed, tally.hard) == (3, 1, 0)


def test_the_soft_limit_comes_from_the_config(app, db_session, domain, monkeypatch):
    monkeypatch.setitem(app.config, "BOUNCE_SOFT_LIMIT", 1)
    rows = sample_rows(db_session)
    process_message(db_session, sample("sendmail_policy_block.eml"), source="test")
    assert suppression(db_session, rows["sendmail_policy_block.eml"].email) is not None


def test_policy_block_and_4xx_are_soft_and_not_suppressed_once(db_session, domain):
    rows = sample_rows(db_session)
    for name in ("sendmail_policy_block.eml", "postfix_quota_4.2.2.eml"):
        [bounce] = process_message(db_session, sample(name), source="test")
        assert bounce.kind == "soft"
        assert suppression(db_session, rows[name].email) is None
        assert db_session.get(OutboxMessage, rows[name].id).status == "failed"


def test_delayed_is_recorded_as_soft_and_never_counted(app, db_session, domain, monkeypatch):
    monkeypatch.setitem(app.config, "BOUNCE_SOFT_LIMIT", 1)
    rows = sample_rows(db_session)
    raw = sample("postfix_delayed.eml")
    for hour in ("13", "17", "21"):  # Postfix warns again later: other Date headers
        process_message(db_session, raw.replace(b"Date: Fri,  6 Nov 2026 13:",
                                                f"Date: Fri,  6 Nov 2026 {hour}:".encode()))
    bounces = db_session.scalars(select(Bounce)).all()
    assert [(b.kind, b.action) for b in bounces] == [("soft", "delayed")] * 3
    row = db_session.get(OutboxMessage, rows["postfix_delayed.eml"].id)
    assert row.status == "sent"
    assert suppression(db_session, row.email) is None


def test_complaint_suppresses_at_once_and_logs_an_unsubscribe(db_session, domain):
    rows = sample_rows(db_session)
    row = rows["yahoo_arf_complaint.eml"]
    contact = row.contact_id
    subscription = Subscription(contact_id=contact, status="confirmed", confirmed_at=utcnow())
    db_session.add(subscription)
    db_session.flush()
    tally = Tally()
    [bounce] = process_message(db_session, sample("yahoo_arf_complaint.eml"), source="test",
                               tally=tally)
    assert (bounce.kind, bounce.outbox_id) == ("complaint", row.id)
    entry = suppression(db_session, "p.silva@yahoo.com")
    assert entry.reason == "complaint"
    event = db_session.scalar(select(ConsentRecord).where(ConsentRecord.contact_id == contact))
    assert (event.action, event.source) == ("unsubscribe", "email")
    assert event.details["reason"] == "complaint"
    assert db_session.get(Subscription, contact).status == "unsubscribed"
    assert (tally.complaints, tally.suppressed) == (1, 1)


def test_redacted_complaint_is_matched_by_the_verp_sender(db_session, domain):
    rows = sample_rows(db_session)
    raw = (
        sample("yahoo_arf_complaint.eml")
        .replace(b"Original-Rcpt-To: p.silva@yahoo.com\n", b"")
        .replace(b"To: p.silva@yahoo.com", b"To: redacted@yahoo.com")
        .replace(b"Message-ID: <o1008.", b"Message-ID: <rewritten.")
    )
    [bounce] = process_message(db_session, raw, source="test")
    assert (bounce.kind, bounce.outbox_id) == ("complaint", rows["yahoo_arf_complaint.eml"].id)
    assert suppression(db_session, "p.silva@yahoo.com").reason == "complaint"


def test_auto_reply_is_ignored_and_counted(db_session, domain):
    sample_rows(db_session)
    tally = Tally()
    assert process_message(db_session, sample("outlook_out_of_office.eml"), tally=tally) == []
    assert bounce_count(db_session) == 0
    assert (tally.processed, tally.ignored) == (1, 1)


def test_garbage_is_recorded_as_unknown_never_dropped(db_session, domain):
    [bounce] = process_message(db_session, sample("garbage.eml"), source="test")
    db_session.commit()
    assert bounce.kind == "unknown"
    assert bounce.outbox_id is None and bounce.email is None
    assert "Not a delivery status notification" in bounce.problem
    assert "garbled spool fragment" in bounce.diagnostic


def test_processing_the_same_message_twice_does_not_count_twice(db_session, domain):
    rows = sample_rows(db_session)
    tally = Tally()
    for _ in range(2):
        for name in ("postfix_user_unknown.eml", "exim_mailbox_full.eml",
                     "yahoo_arf_complaint.eml", "garbage.eml"):
            process_message(db_session, sample(name), source="test", tally=tally)
    assert bounce_count(db_session) == 4
    assert tally.line() == (
        "processed=8 hard=1 soft=1 complaints=1 unknown=1 suppressed=2 ignored=4"
    )
    complaint_events = db_session.scalar(
        select(func.count()).select_from(ConsentRecord).where(ConsentRecord.action == "unsubscribe")
    )
    assert complaint_events == 1
    from outreach.delivery.bounces.services import soft_bounce_count

    exim = db_session.scalar(select(Bounce).where(
        Bounce.outbox_id == rows["exim_mailbox_full.eml"].id))
    assert soft_bounce_count(db_session, exim.email_hash) == 1


# --- sources and the command ----------------------------------------------------------------------


def make_maildir(tmp_path: Path, names) -> Path:
    maildir = tmp_path / "bounces"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for number, name in enumerate(names):
        # A few already seen by a mail client (in cur/ with flags): still unprocessed.
        target = (maildir / "cur" / f"17940000{number:02d}.M1P1.mx1:2,S" if number % 4 == 0
                  else maildir / "new" / f"17940000{number:02d}.M1P1.mx1")
        shutil.copyfile(DATA / name, target)
    return maildir


def files(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir()) if path.exists() else []


ALL_SAMPLES = sorted(path.name for path in DATA.glob("*.eml"))
EXPECTED = "processed=11 hard=4 soft=4 complaints=1 unknown=1 suppressed=5 ignored=1"


def test_cli_processes_a_maildir_once(app, db_session, domain, tmp_path):
    sample_rows(db_session)
    db_session.commit()
    maildir = make_maildir(tmp_path, ALL_SAMPLES)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["delivery", "process-bounces", "--maildir", str(maildir)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == EXPECTED
    assert files(maildir / "new") == [] and files(maildir / "cur") == []
    processed = files(maildir / ".Processed" / "cur")
    assert len(processed) == 11 and all(name.endswith(":2,S") for name in processed)
    assert (maildir / ".Processed" / "maildirfolder").exists()
    db_session.expire_all()
    kinds = dict(db_session.execute(
        select(Bounce.kind, func.count()).group_by(Bounce.kind)).tuples().all())
    assert kinds == {"hard": 4, "soft": 4, "complaint": 1, "unknown": 1}
    assert db_session.scalar(select(func.count()).select_from(Suppression)) == 5

    again = runner.invoke(args=["delivery", "process-bounces", "--maildir", str(maildir)])
    assert again.output.strip() == (
        "processed=0 hard=0 soft=0 complaints=0 unknown=0 suppressed=0 ignored=0"
    )
    # Put back by hand (or a crash before the move): recognised, not counted again.
    for name in processed[:3]:
        (maildir / ".Processed" / "cur" / name).rename(maildir / "new" / name.split(":")[0])
    third = runner.invoke(args=["delivery", "process-bounces", "--maildir", str(maildir)])
    assert third.output.strip() == (
        "processed=3 hard=0 soft=0 complaints=0 unknown=0 suppressed=0 ignored=3"
    )
    assert bounce_count(db_session) == 10


def test_cli_dry_run_changes_nothing(app, db_session, domain, tmp_path):
    sample_rows(db_session)
    db_session.commit()
    maildir = make_maildir(tmp_path, ALL_SAMPLES)
    app.config["BOUNCE_MAILDIR"], saved = str(maildir), app.config.get("BOUNCE_MAILDIR")
    try:
        result = app.test_cli_runner().invoke(args=["delivery", "process-bounces", "--dry-run"])
    finally:
        app.config["BOUNCE_MAILDIR"] = saved
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == EXPECTED
    assert "Dry run" in result.output
    db_session.expire_all()
    assert bounce_count(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert len(files(maildir / "new")) + len(files(maildir / "cur")) == 11
    assert not (maildir / ".Processed").exists()


def test_cli_explains_a_missing_or_wrong_mailbox(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["delivery", "process-bounces"])
    assert result.exit_code != 0
    assert "--maildir" in result.output
    result = runner.invoke(args=["delivery", "process-bounces", "--maildir", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a Maildir" in result.output


def test_maildir_source_rejects_a_plain_folder(tmp_path):
    with pytest.raises(SourceError):
        MaildirSource(tmp_path)


def test_two_runs_do_not_read_one_maildir_at_once(app, tmp_path):
    maildir = make_maildir(tmp_path, ["postfix_user_unknown.eml"])
    with MaildirSource(maildir):
        result = app.test_cli_runner().invoke(
            args=["delivery", "process-bounces", "--maildir", str(maildir)])
    assert result.exit_code == 1
    assert "Another process is reading bounces" in result.output
    assert files(maildir / "cur") == ["1794000000.M1P1.mx1:2,S"]


class FakeImap:
    """Just enough of imaplib.IMAP4 for ImapSource: UID SEARCH/FETCH/STORE and flags."""

    def __init__(self, messages: dict[int, bytes]):
        self.messages = messages
        self.flags: dict[int, set[str]] = {uid: set() for uid in messages}
        self.logged_in = self.selected = None
        self.closed = False

    def login(self, user, password):
        self.logged_in = (user, password)
        return "OK", [b"Logged in"]

    def select(self, folder):
        self.selected = folder
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            unseen = [str(uid).encode() for uid in self.messages if "\\Seen" not in self.flags[uid]]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            uid = int(args[0])
            assert "PEEK" in args[1]  # reading must not set \Seen
            return "OK", [(f"{uid} (UID {uid} BODY[] {{n}}".encode(), self.messages[uid]), b")"]
        if command == "STORE":
            for uid in args[0].split(","):
                self.flags[int(uid)].add("\\Seen")
            return "OK", []
        raise AssertionError(command)

    def close(self):
        self.closed = True

    def logout(self):
        return "BYE", []


def test_imap_source_reads_unseen_and_flags_them_seen():
    fake = FakeImap({7: sample("postfix_user_unknown.eml"), 9: sample("garbage.eml")})
    source = ImapSource("imap.example.org", "bounces", "secret", folder="INBOX",
                        connect=lambda *args: fake)
    with source:
        items = list(source.items())
        assert [item.key for item in items] == ["7", "9"]
        assert items[0].data == sample("postfix_user_unknown.eml")
        source.mark_processed(items[:1])
        assert [item.key for item in source.items()] == ["9"]
    assert fake.logged_in == ("bounces", "secret") and fake.selected == "INBOX" and fake.closed


def test_cli_reads_imap(app, db_session, domain, monkeypatch):
    from outreach.delivery.bounces import sources

    sample_rows(db_session)
    db_session.commit()
    fake = FakeImap({1: sample("postfix_user_unknown.eml"), 2: sample("outlook_out_of_office.eml")})
    monkeypatch.setattr(sources, "_imap_connect", lambda *args: fake)
    for key, value in {"BOUNCE_IMAP_HOST": "imap.example.org", "BOUNCE_IMAP_USER": "bounces",
                       "BOUNCE_IMAP_PASSWORD": "secret"}.items():
        monkeypatch.setitem(app.config, key, value)
    result = app.test_cli_runner().invoke(args=["delivery", "process-bounces", "--imap"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "processed=2 hard=1 soft=0 complaints=0 unknown=0 suppressed=1 ignored=1"
    )
    assert fake.flags == {1: {"\\Seen"}, 2: {"\\Seen"}}
    db_session.expire_all()
    assert db_session.scalar(select(Bounce.source)) == "imap"


def test_imap_without_settings_is_explained(app):
    result = app.test_cli_runner().invoke(args=["delivery", "process-bounces", "--imap"])
    assert result.exit_code == 1
    assert "BOUNCE_IMAP_HOST" in result.output


# --- the staff page -------------------------------------------------------------------------------


@pytest.fixture
def recorded(db_session, domain):
    sample_rows(db_session)
    for name in ALL_SAMPLES:
        process_message(db_session, sample(name), source="maildir")
    unmatched = _variant(sample("postfix_user_unknown.eml"), 1001, 4444).replace(
        b"amina.diallo@", b"nobody@")
    process_message(db_session, unmatched, source="maildir")
    db_session.commit()


def test_bounce_page_needs_login(client):
    response = client.get("/bounces")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_bounce_page_lists_kind_status_diagnostic_campaign_and_problem(staff_client, recorded):
    page = staff_client.get("/bounces?per_page=100").get_data(as_text=True)
    assert 'data-count="all">11<' in page
    assert 'data-count="hard">4<' in page and 'data-count="unknown">2<' in page
    assert "lucia.garcia@defensoria-example.org" in page
    assert "5.1.10" in page
    assert "RESOLVER.ADR.RecipientNotFound" in page
    assert "UPR 52nd session newsletter" in page
    assert "Not matched to a message we sent" in page
    assert "Showing 1&ndash;11 of 11" in page


def test_bounce_page_filters_by_kind_and_campaign(staff_client, viewer_client, recorded,
                                                  db_session):
    page = staff_client.get("/bounces?kind=complaint").get_data(as_text=True)
    assert "p.silva@yahoo.com" in page
    assert "amina.diallo@ngo-example.org" not in page
    campaign_id = db_session.scalar(select(Campaign.id))
    page = viewer_client.get(f"/bounces?campaign={campaign_id}").get_data(as_text=True)
    assert "Showing bounces of the campaign" in page
    assert "Showing 1&ndash;9 of 9" in page  # the unmatched and the garbage are not in it
    assert staff_client.get("/bounces?kind=bogus").status_code == 400
    assert staff_client.get("/bounces?campaign=abc").status_code == 400


def test_bounce_page_paginates(staff_client, recorded):
    first = staff_client.get("/bounces?per_page=4").get_data(as_text=True)
    assert "Showing 1&ndash;4 of 11" in first and 'rel="next"' in first
    last = staff_client.get("/bounces?per_page=4&page=3").get_data(as_text=True)
    assert "Showing 9&ndash;11 of 11" in last


def test_empty_bounce_page_says_what_to_do(staff_client):
    page = staff_client.get("/bounces").get_data(as_text=True)
    assert "No bounces recorded yet" in page
    assert "process-bounces" in page


def test_bounce_detail_page(staff_client, recorded, db_session):
    bounce = db_session.scalar(select(Bounce).where(Bounce.status_code == "5.2.2"))
    page = staff_client.get(f"/bounces/{bounce.id}").get_data(as_text=True)
    assert "jean.dupont@droits-example.fr" in page
    assert "Quota exceeded" in page
    assert "Not suppressed: 1 of 3 soft bounces" in page
    assert "o1002.8c0e55a1d2f4" in page
    hard = db_session.scalar(select(Bounce).where(Bounce.status_code == "5.1.10"))
    assert "Suppressed</a> (hard bounce)" in staff_client.get(f"/bounces/{hard.id}").get_data(
        as_text=True)
    assert staff_client.get("/bounces/999999").status_code == 404
