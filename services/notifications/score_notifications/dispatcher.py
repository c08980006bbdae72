"""Sending what is due, exactly once in effect.

Every send goes through a claim: the insert of "<key>:<generation>" into send_claims, which
only one dispatcher (or cancellation) can win, so no two can both take a message. Each claim
also files the message for a check a lease later: if the process dies before it records the
outcome, the check finds the message still planned under an old claim and recovers it
without sending it twice:

- an SMS is looked up at the provider by its key (our key is the provider's message id):
  sent if the provider has it, sent again if it never got it;
- an email is sent again unless its batch was noted as being given to the mail server
  (transmissions): then it may have gone, so it is recorded `in_doubt` and never resent.

Transient failures retry with backoff; permanent ones are recorded with their reason, and a
failed SMS falls back to the recipient's email when there is one. An SMS due in the quiet
hours of the recipient's zone waits for their end; a message whose moment passed long ago
expires instead of arriving late.
"""
from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from score_common.calendar import calendar_bytes, workshop_events
from score_common.store import as_utc as _utc
from score_notifications import domain
from score_notifications.mail import Email, SmtpMail
from score_notifications.models import FINAL, Message
from score_notifications.sms import DELIVERED_GROUPS, InfobipSms, Outcome
from score_notifications.store import NotificationsRepository, chunks, entry
from score_notifications.templates import Templates

log = logging.getLogger("score.notifications.dispatch")

LEASE = timedelta(minutes=2)  # a claim older than this belongs to a dispatcher that died
KEEP_BUCKETS = timedelta(minutes=2)  # swept again before retiring: late filings still seen
FIRST_SWEEP = timedelta(days=1)
SMS_BATCH = 100
EMAIL_BATCH = 25  # at most this many emails are in doubt if the process dies mid-batch
MAIL_CONNECTIONS = 4
PRODID = "-//ILO SCORE Indonesia//Notifications//EN"


@dataclass
class Tally:
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    expired: int = 0
    in_doubt: int = 0
    recovered: int = 0
    fallbacks: int = 0
    keys: set = field(default_factory=set, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "keys"}


class Dispatcher:
    def __init__(self, repository: NotificationsRepository, sms: InfobipSms, mail: SmtpMail,
                 templates: Templates, quiet_hours=domain.DEFAULT_QUIET_HOURS,
                 mail_connections: int = MAIL_CONNECTIONS):
        self.repository = repository
        # SMTP answers each command in turn: several connections keep the server busy
        self.pool = ThreadPoolExecutor(mail_connections)
        self.sms = sms
        self.mail = mail
        self.templates = templates
        self.quiet_hours = quiet_hours
        self.finished: set[str] = set()  # keys seen final, skipped until their bucket retires

    # -- the sweep -------------------------------------------------------------------------------
    def sweep(self, now: datetime) -> Tally:
        """Send everything due by `now`; retire the buckets of minutes long past."""
        tally = Tally()
        cursor = self.repository.cursor()
        start = datetime.fromisoformat(cursor + ":00+00:00") + timedelta(minutes=1) \
            if cursor else now - FIRST_SWEEP
        minutes, moment = [], start
        while moment <= now:
            minutes.append(domain.minute_of(moment))
            moment += timedelta(minutes=1)
        buckets = self.repository.buckets(minutes)
        keys = sorted({key for found in buckets.values() for key in found} - self.finished)
        for part in chunks(keys):
            self.process(part, now, tally)
        settled = domain.minute_of(now - KEEP_BUCKETS)
        retired = [minute for minute in buckets if minute <= settled]
        if retired:
            self.repository.drop_buckets(retired)
            for minute in retired:
                self.finished.difference_update(buckets[minute])
        if not cursor or settled > cursor:
            self.repository.move_cursor(settled)
        return tally

    def process(self, keys: list[str], now: datetime, tally: Tally) -> None:
        due = []
        for message in self.repository.raw_messages(keys):
            if message["status"] in FINAL:
                self.finished.add(message["_id"])
            elif message["status"] == "planned" and _utc(message["due_at"]) <= now:
                due.append(message)
        token = uuid.uuid4().hex
        claimed, held = self.repository.take_or_see(due, token, now)
        # a claim older than its lease belongs to a dispatcher that died holding it
        stale = [(message, claim) for message, claim in held
                 if _utc(claim["at"]) <= now - LEASE]
        if stale:
            self.recover(stale, now, tally)
        if not claimed:
            return
        # the check that finds these again should this process die before recording them
        self.repository.file_due({m["_id"]: now + LEASE + timedelta(minutes=1)
                                  for m in claimed})
        self.send(claimed, token, now, tally)

    # -- sending ---------------------------------------------------------------------------------
    def send(self, claimed: list[dict], token: str, now: datetime, tally: Tally) -> None:
        settle, refile = [], {}
        opted_out = self.repository.opted_out([f"{m['channel']}:{m['address']}"
                                               for m in claimed])
        texts, emails = [], []
        for message in claimed:
            key = message["_id"]
            if message.get("not_after") and _utc(message["not_after"]) < now:
                settle.append(self._final(message, token, "expired", now,
                                          "its moment passed before it could be sent"))
                tally.expired += 1
                continue
            if f"{message['channel']}:{message['address']}" in opted_out:
                settle.append(self._final(message, token, "suppressed", now,
                                          f"{message['address']} opted out of {message['channel']}"))
                tally.suppressed += 1
                continue
            if message["channel"] == "sms":
                until = domain.quiet_until(now, message["timezone"], self.quiet_hours)
                if until is not None:
                    settle.append((key, token, {"status": "planned", "due_at": until,
                                                "claim": None},
                                   entry("deferred", "quiet hours in the recipient's zone",
                                         now)))
                    refile[key] = until
                    tally.deferred += 1
                    continue
            try:
                rendered = self.templates.render(message["kind"], message["language"],
                                                 message["timezone"], message["context"])
            except Exception as exc:  # a template that cannot be written is a bug to see
                log.exception("cannot write %s %s", message["kind"], key)
                settle.append(self._final(message, token, "failed", now,
                                          f"the message could not be written: {exc}"))
                tally.failed += 1
                continue
            if message["channel"] == "sms":
                texts.append((message, rendered))
            else:
                emails.append((message, rendered))

        outcomes: dict[str, Outcome] = {}
        for part in chunks(texts, SMS_BATCH):
            outcomes.update(self.sms.send_many(
                [(m["_id"], m["address"], r.sms) for m, r in part]))
        email_batches = list(chunks(emails, EMAIL_BATCH))
        if email_batches:
            # written before the mail server is given them: after a crash these are in doubt
            self.repository.note_transmissions(token, [[m["_id"] for m, _ in part]
                                                       for part in email_batches], now)
            for result in self.pool.map(lambda part: self.mail.send_many(
                    [self._email(m, r) for m, r in part]), email_batches):
                outcomes.update(result)

        fallbacks = []
        for message, rendered in texts + emails:
            outcome = outcomes[message["_id"]]
            extra = {"segments": rendered.sms_segments} if message["channel"] == "sms" else {}
            change = self._settle_outcome(message, token, outcome, now, extra, tally)
            settle.append(change)
            if change[2].get("status") == "planned":
                refile[message["_id"]] = change[2]["due_at"]
            elif change[2].get("status") == "failed" and message.get("alternate"):
                fallbacks.append(fallback_message(message, now))
        self.repository.settle(settle)
        self.finished.update(key for key, _, changes, _ in settle
                             if changes.get("status") in FINAL)
        if refile:
            self.repository.file_due(refile)
        if fallbacks:
            tally.fallbacks += len(self.repository.add_messages(fallbacks, now))

    def _settle_outcome(self, message: dict, token: str, outcome: Outcome, now: datetime,
                        extra: dict, tally: Tally):
        key, attempts = message["_id"], message.get("attempts", 0) + 1
        if outcome.status == "accepted":
            tally.sent += 1
            return (key, token, {"status": "sent", "sent_at": now, "attempts": attempts,
                                 **extra}, entry("sent", f"via {message['channel']}", now))
        if outcome.status == "doubt":
            tally.in_doubt += 1
            return (key, token, {"status": "in_doubt", "reason": outcome.detail,
                                 "attempts": attempts}, entry("in_doubt", outcome.detail, now))
        if outcome.status == "transient":
            again = domain.retry_at(attempts, now)
            if again is not None:
                tally.retried += 1
                return (key, token, {"status": "planned", "due_at": again, "claim": None,
                                     "attempts": attempts, "reason": outcome.detail},
                        entry("retry", f"{outcome.detail}; again at {again.isoformat()}", now))
            detail = f"gave up after {attempts} attempts: {outcome.detail}"
        else:
            detail = outcome.detail
        tally.failed += 1
        return (key, token, {"status": "failed", "reason": detail, "attempts": attempts},
                entry("failed", detail, now))

    @staticmethod
    def _final(message: dict, token: str, status: str, now: datetime, reason: str):
        return (message["_id"], token, {"status": status, "reason": reason},
                entry(status, reason, now))

    def _email(self, message: dict, rendered) -> Email:
        ics, method = None, "REQUEST"
        calendar = message["context"].get("calendar")
        if calendar:
            method = "CANCEL" if calendar["cancelled"] else "REQUEST"
            ics = calendar_bytes(workshop_events(
                workshop_id=calendar["workshop_id"], kind=calendar["kind"],
                module=calendar["module"], timezone=message["timezone"],
                sessions=calendar["sessions"], location=calendar.get("location"),
                description=rendered.subject, revision=calendar["revision"],
                cancelled=calendar["cancelled"], stamp=_utc(message["due_at"])),
                prodid=PRODID, method=method)
        return Email(key=message["_id"], to=message["address"],
                     to_name=message.get("recipient_name") or "", subject=rendered.subject,
                     text=rendered.text, html=rendered.html, ics=ics, ics_method=method)

    # -- recovery after a crash ------------------------------------------------------------------
    def recover(self, stale: list[tuple[dict, dict]], now: datetime, tally: Tally) -> None:
        settle, refile = [], {}
        # one recoverer per generation, however many dispatchers find it
        mine = {m["_id"] for m in self.repository.take_or_see(
            [m for m, _ in stale], uuid.uuid4().hex, now, suffix=":recover")[0]}
        given = self.repository.transmissions({claim["token"] for m, claim in stale
                                               if m["_id"] in mine})
        for message, claim in stale:
            key = message["_id"]
            if key not in mine:
                continue
            if key in given:
                reason = ("the service stopped while the mail server was taking this email; "
                          "not resent, so it cannot arrive twice")
                settle.append((key, "", {"status": "in_doubt", "reason": reason},
                               entry("in_doubt", reason, now)))
                tally.in_doubt += 1
                continue
            if message["channel"] == "sms":
                try:
                    group = self.sms.lookup(key)
                except Exception as exc:
                    log.warning("cannot look up %s at the SMS provider (%s); later", key, exc)
                    continue
                if group is not None:
                    status = "delivered" if group in DELIVERED_GROUPS else "sent"
                    settle.append((key, "", {"status": status, "sent_at": now},
                                   entry(status, f"recovered: the provider has it ({group})",
                                         now)))
                    tally.recovered += 1
                    continue
            settle.append((key, "", {"status": "planned", "due_at": now},
                           entry("planned", "recovered: it never reached the provider; "
                                            "sending again", now)))
            refile[key] = now
            tally.recovered += 1
        self.repository.settle(settle)
        if refile:
            self.repository.file_due(refile)


def fallback_message(message: dict, now: datetime) -> Message:
    """The email that takes the place of an SMS that failed for good."""
    alternate = message["alternate"]
    return Message(
        id=domain.message_key(message["subject_id"], message["recipient_id"],
                              f"{message['kind']}:fallback",
                              now.replace(second=0, microsecond=0)),
        subject_id=message["subject_id"], workshop_id=message.get("workshop_id"),
        visit_id=message.get("visit_id"), recipient_id=message["recipient_id"],
        recipient_name=message.get("recipient_name"), role=message.get("role"),
        channel=alternate["channel"], address=alternate["address"], kind=message["kind"],
        language=message["language"], timezone=message["timezone"], due_at=now,
        not_after=domain.not_after(message["kind"], now),
        context=message["context"], fallback_of=message["_id"], created_at=now,
        history=[entry("planned", f"fallback: the SMS {message['_id']} failed", now)])
