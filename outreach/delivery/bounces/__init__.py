"""Bounces and complaints: read them from a Maildir or IMAP, match them to outbox rows, act on them.

`parse` turns the bytes of one message into a `Report` (RFC 3464 DSN, RFC 5965 ARF complaint, a
text bounce read by patterns, an auto-reply, or something unreadable) without touching the
database; `match` finds the outbox row by the original Message-ID, then the VERP address
`bounces+<outbox id>@MAIL_DOMAIN`, then the recipient address; `services` records a `Bounce` per
recipient and applies the rules (hard: suppress at once; mailbox full, policy blocks and 4.x.x:
suppress after BOUNCE_SOFT_LIMIT; complaints: suppress and log an unsubscribe).

Processing is idempotent at two levels. The source marks what it has processed once the database
commit is done (Maildir: the file moves to the `.Processed` Maildir++ folder; IMAP: the message gets
the \\Seen flag). And a bounce identical to one already recorded (same outbox row, address, kind,
action, status, diagnostic and Date) is not recorded or counted again, which covers a crash between
the commit and the marking, or a message put back by hand.
"""
