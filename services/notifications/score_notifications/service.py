"""The notifications service: SMS and email reminders for workshops and visits, in the
recipient's language and zone, never sent twice and never after a cancellation.

Accepts: participant_registered (confirmation with the .ics, then reminders 7 days and
1 day before and on the morning of each day), workshop_rescheduled (old reminders
cancelled, a notice with the new dates, new reminders), workshop_cancelled (everything
pending cancelled, a cancellation notice), registration_cancelled (everything pending
cancelled), visit_scheduled / visit_cancelled (the day-before reminder to the enterprise's
managers and the trainer), visit_overdue (the trainer is reminded), report_ready (the
managers and the partner are told), trainer_registered and partner_registered (contacts).
Emits: reminders_planned.
HTTP: the SMS provider's delivery reports and inbound messages (STOP), under a secret path.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer
from nameko.web.handlers import http

from score_common.clock import Clock
from score_common.envelope import Event
from score_common.errors import Refused
from score_common.http import json_response, problem, read_body
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, as_date, json_form, utcnow
from score_notifications import domain, sms
from score_notifications.dispatcher import Dispatcher, fallback_message
from score_notifications.domain import Recipient
from score_notifications.mail import SmtpMail
from score_notifications.models import (
    Cursor, DueBucket, Lookup, Message, OptOut, PartnerContact, SendClaim, Subject,
    TrainerContact, Transmission,
)
from score_notifications.planner import Planner, visit_subject, workshop_context
from score_notifications.schemas import MessageSchema
from score_notifications.store import NotificationsRepository, entry
from score_notifications.templates import Templates

log = logging.getLogger("score.notifications")

DISPATCH_SECONDS = 5  # due reminders go within a minute of their time, well within
CALLBACK_LIMIT = 1_000_000


class TrainerUnknown(LookupError):
    """A visit names a trainer whose contacts have not arrived yet (retried)."""


class Channels(DependencyProvider):
    """The SMS provider, the mail server and the templates, from the service's config."""

    def setup(self):
        config = self.container.config
        secret = config["SCORE_CALLBACK_SECRET"]
        self.callback_base = f"{config['SCORE_PUBLIC_URL']}/notifications/sms"
        self.secret = secret
        self.sms = sms.InfobipSms(config["SCORE_SMS_URL"], config["SCORE_SMS_API_KEY"],
                                  config["SCORE_SMS_SENDER"],
                                  f"{self.callback_base}/reports/{secret}")
        self.mail = SmtpMail(config["SCORE_SMTP_URL"], config["SCORE_MAIL_FROM"])
        self.templates = Templates()
        self.quiet_hours = domain.parse_quiet_hours(config["SCORE_QUIET_HOURS"])
        self.dispatchers = {}

    def stop(self):
        self.sms.close()

    def dispatcher(self, repository) -> Dispatcher:
        # one per process, so its memory of finished keys outlives a sweep
        if "main" not in self.dispatchers:
            self.dispatchers["main"] = Dispatcher(repository, self.sms, self.mail,
                                                  self.templates, self.quiet_hours)
        return self.dispatchers["main"]

    def get_dependency(self, worker_ctx):
        return self


class NotificationsService(ScoreService):
    name = "notifications"
    store: NotificationsRepository = MongoStore(NotificationsRepository, documents=[
        Message, Subject, DueBucket, Lookup, OptOut, TrainerContact, PartnerContact, Cursor,
        SendClaim, Transmission])
    outbox = Outbox(Subject)
    clock = Clock()
    channels: Channels = Channels()

    # -- workshops -------------------------------------------------------------------------------
    def _stale(self, subject: Subject | None, event: Event) -> bool:
        """Older news about a subject than what it was last planned from."""
        last = (subject.context or {}).get("event_at") if subject else None
        return bool(last) and datetime.fromisoformat(last) >= event.occurred_at

    def _save_subject(self, subject_id: str, kind: str, event: Event, keys: list[str],
                      status: str, context: dict, revision: int = 0,
                      workshop_id: str | None = None, reason: str = "",
                      announce: dict | None = None) -> Subject:
        def change(subject: Subject):
            subject.keys = list(dict.fromkeys([*subject.keys, *keys]))
            subject.status, subject.revision, subject.workshop_id = status, revision, \
                workshop_id
            subject.context = {**json_form(context), "event_at": event.occurred_at.isoformat()}
            subject.history = [*subject.history, {"status": status, "at": utcnow().isoformat(),
                                                  "event": event.event_type,
                                                  "reason": reason}]
            if announce:
                self.outbox.record(subject, "reminders_planned", announce)

        if self.store.subject(subject_id) is None:
            fresh = Subject(id=subject_id, kind=kind)
            change(fresh)
            if not self.store.insert_many([fresh]):
                self.outbox.publish(fresh)
                return fresh
        saved = self.store.update(Subject, subject_id, change)
        self.outbox.publish(saved)
        return saved

    def _plan(self, messages: list[Message]) -> set[str]:
        return self.store.add_messages(messages, self.clock.now())

    @event_handler
    def handle_participant_registered(self, event: Event):
        registered, workshop = event.payload, event.payload["workshop"]
        subject_id = registered["registration_id"]
        subject = self.store.subject(subject_id)
        if self._stale(subject, event):
            return subject_id
        if subject and subject.status == "active" and subject.workshop_id == \
                workshop["workshop_id"] and subject.revision >= workshop.get("revision", 0):
            return subject_id  # planned already (a redelivery)
        if subject:
            self.store.cancel(list(subject.keys), "placed again: replaced by a new plan")
        planner = Planner(self.clock.now())
        recipients = [Recipient.of_participant(p) for p in registered["participants"]]
        messages = planner.workshop_reminders(subject_id, workshop, recipients,
                                              "registration_confirmation", event.occurred_at)
        self._plan(messages)
        self._save_subject(subject_id, "workshop", event, [m.pk for m in messages], "active",
                           workshop_context(workshop), workshop.get("revision", 0),
                           workshop["workshop_id"], announce={
                               "subject_id": subject_id, "workshop_id": workshop["workshop_id"],
                               "reminders": len(messages),
                               "channels": dict(Counter(m.channel for m in messages
                                                        if m.status == "planned"))})
        return subject_id

    @event_handler
    def handle_workshop_rescheduled(self, event: Event):
        """Old reminders cancelled, a notice with the new dates (and the updated .ics), new
        reminders, for every registered team."""
        moved = event.payload["workshop"]
        planner = Planner(self.clock.now())
        replanned = []
        for registration in event.payload["registrations"]:
            subject_id = registration["registration_id"]
            subject = self.store.subject(subject_id)
            if self._stale(subject, event) or (
                    subject and subject.revision >= moved.get("revision", 0)
                    and subject.workshop_id == moved["workshop_id"]):
                continue
            if subject:
                self.store.cancel(list(subject.keys),
                                  f"workshop moved to {', '.join(map(str, moved['days']))}")
            recipients = [Recipient.of_participant(p) for p in registration["participants"]]
            messages = planner.workshop_reminders(
                subject_id, moved, recipients, "workshop_rescheduled", event.occurred_at,
                reason=event.payload["reason"],
                previous_days=json_form(event.payload["previous_days"]))
            self._plan(messages)
            self._save_subject(subject_id, "workshop", event, [m.pk for m in messages],
                               "active", workshop_context(moved), moved.get("revision", 0),
                               moved["workshop_id"], event.payload["reason"])
            replanned.append(subject_id)
        return replanned

    @event_handler
    def handle_workshop_cancelled(self, event: Event):
        """Everything pending cancelled, then the cancellation notice (and an .ics that
        removes the days from calendars)."""
        cancelled = event.payload
        planner = Planner(self.clock.now())
        for registration in cancelled["registrations"]:
            subject_id = registration["registration_id"]
            subject = self.store.subject(subject_id)
            if self._stale(subject, event):
                continue
            if subject:
                self.store.cancel(list(subject.keys), f"workshop cancelled: "
                                                      f"{cancelled['reason']}")
            context = {**(subject.context if subject else {}),
                       **workshop_context({**cancelled, "sessions": (
                           subject.context.get("sessions") if subject else None) or []})}
            if context.get("calendar"):
                context["calendar"] = {**context["calendar"], "cancelled": True,
                                       "revision": (subject.revision if subject else 0) + 1}
            context["reason"] = cancelled["reason"]
            recipients = [Recipient.of_participant(p) for p in registration["participants"]]
            notices = planner.notice(subject_id, recipients, "workshop_cancelled",
                                     cancelled["timezone"], context, event.occurred_at,
                                     workshop_id=cancelled["workshop_id"])
            self._plan(notices)
            self._save_subject(subject_id, "workshop", event, [m.pk for m in notices],
                               "cancelled", context, subject.revision if subject else 0,
                               cancelled["workshop_id"], cancelled["reason"])

    @event_handler
    def handle_registration_cancelled(self, event: Event):
        cancelled = event.payload
        subject_id = cancelled["registration_id"]
        subject = self.store.subject(subject_id)
        if self._stale(subject, event):
            return 0
        count = self.store.cancel(list(subject.keys), cancelled["reason"]) if subject else 0
        self._save_subject(subject_id, "workshop", event, [], "cancelled",
                           subject.context if subject else {},
                           subject.revision if subject else 0, cancelled.get("workshop_id"),
                           cancelled["reason"])
        return count

    # -- visits ----------------------------------------------------------------------------------
    @event_handler
    def handle_trainer_registered(self, event: Event):
        trainer = event.payload
        self.store.put_trainer(trainer["trainer_id"], {
            k: trainer.get(k) for k in ("name", "email", "phone", "language", "active")})

    @event_handler
    def handle_partner_registered(self, event: Event):
        partner = event.payload
        self.store.put_partner(partner["partner_id"], {
            "name": partner["name"], "email": partner.get("contact_email"),
            "language": partner.get("language") or "id", "active": partner["active"]})

    def _trainer(self, trainer_id: str) -> Recipient:
        contact = self.store.trainer(trainer_id)
        if contact is None:
            raise TrainerUnknown(f"no contacts for trainer {trainer_id} yet "
                                 "(trainer_registered not seen)")
        return Recipient(trainer_id, contact.name or trainer_id, "trainer", contact.phone,
                         contact.email, contact.language or "id", True)

    @event_handler
    def handle_visit_scheduled(self, event: Event):
        """The day before a visit, at 09:00 in the enterprise's zone: its managers and the
        trainer are reminded."""
        visit = event.payload
        subject_id = visit_subject(visit)
        if self.store.subject(subject_id) is not None:
            return subject_id  # planned already, or cancelled before we heard of it
        trainer = self._trainer(visit["trainer_id"])
        recipients = [Recipient.of_participant(p) for p in visit["participants"]
                      if p["role"] == "manager"] + [trainer]
        context = json_form({
            "visit_id": visit["visit_id"], "visit_day": visit["day"],
            "number": visit["number"], "of": visit["of"],
            "enterprise_id": visit["enterprise_id"], "trainer_name": trainer.name})
        planner = Planner(self.clock.now())
        messages = [planner.message(subject_id, recipient, kind, due, visit["timezone"],
                                    context, visit_id=visit["visit_id"])
                    for kind, due in domain.visit_moments(as_date(visit["day"]),
                                                          visit["timezone"], planner.now)
                    for recipient in recipients]
        messages = [m for m in messages if m is not None]
        self._plan(messages)
        self._save_subject(subject_id, "visit", event, [m.pk for m in messages], "active",
                           context)
        return subject_id

    @event_handler
    def handle_visit_cancelled(self, event: Event):
        visit = event.payload
        subject_id = visit_subject(visit)
        subject = self.store.subject(subject_id)
        if subject is not None:
            self.store.cancel(list(subject.keys), visit["reason"])
        self._save_subject(subject_id, "visit", event, [], "cancelled",
                           subject.context if subject else {}, reason=visit["reason"])

    @event_handler
    def handle_visit_overdue(self, event: Event):
        overdue = event.payload
        trainer = self._trainer(overdue["trainer_id"])
        planner = Planner(self.clock.now())
        messages = planner.notice(
            f"overdue:{overdue['visit_id']}", [trainer], "visit_overdue", "Asia/Jakarta",
            json_form({k: overdue[k] for k in ("visit_id", "enterprise_id", "days_overdue")}
                     | {"visit_day": overdue["day"]}), event.occurred_at,
            visit_id=overdue["visit_id"])
        self._plan(messages)

    @event_handler
    def handle_report_ready(self, event: Event):
        report = event.payload
        planner = Planner(self.clock.now())
        recipients = [Recipient.of_participant(p) for p in report["recipients"]]
        partner = self.store.partner(report["partner_id"])
        if partner is not None and partner.active and partner.email:
            # the partner that enrolled the enterprise hears of its report too
            recipients.append(Recipient(f"partner:{partner.pk}", partner.name or partner.pk,
                                        "partner", None, partner.email,
                                        partner.language or "id", True))
        messages = planner.notice(
            f"report:{report['report_id']}", recipients, "report_ready",
            report["timezone"], json_form({k: report[k] for k in (
                "report_id", "enterprise_name", "url", "module")}), event.occurred_at)
        self._plan(messages)

    # -- dispatch --------------------------------------------------------------------------------
    @timer(interval=DISPATCH_SECONDS)
    def dispatch(self):
        tally = self.channels.dispatcher(self.store).sweep(self.clock.now())
        if any(tally.as_dict().values()):
            log.info("dispatched: %s", tally.as_dict())

    @rpc
    def dispatch_now(self) -> dict:
        """Send what is due now instead of at the next tick (ops, rehearsals, tests)."""
        return self.channels.dispatcher(self.store).sweep(self.clock.now()).as_dict()

    # -- preferences -----------------------------------------------------------------------------
    @rpc
    def set_opt_out(self, channel: str, address: str, opted_out: bool = True,
                    actor: str = "staff") -> dict:
        """Stop (or resume) sending to an address on a channel, as its owner asked."""
        errors = {}
        if channel not in ("sms", "email"):
            errors["channel"] = ["must be sms or email"]
        elif channel == "sms" and (problem_ := domain.phone_problem(address)):
            errors["address"] = [problem_]
        elif channel == "email" and (problem_ := domain.email_problem(address)):
            errors["address"] = [problem_]
        if errors:
            raise Refused(errors)
        address = domain.e164(address) if channel == "sms" else address
        self.store.set_opt_out(channel, address, opted_out, actor)
        return {"channel": channel, "address": address, "opted_out": opted_out}

    # -- the delivery log ------------------------------------------------------------------------
    @rpc
    def delivery_log(self, recipient_id: str | None = None,
                     workshop_id: str | None = None) -> list[dict]:
        """What was (or will be) sent to a recipient or about a workshop: when, through
        which channel, with what status and why."""
        if bool(recipient_id) == bool(workshop_id):
            raise Refused({"recipient_id": ["give a recipient_id or a workshop_id"]})
        lookup = f"recipient:{recipient_id}" if recipient_id else f"workshop:{workshop_id}"
        return MessageSchema(many=True).dump(self.store.log(lookup))

    @rpc
    def reminders_for(self, subject_id: str) -> list[dict]:
        return MessageSchema(many=True).dump(self.store.messages_of(subject_id))

    # -- the SMS provider's callbacks ------------------------------------------------------------
    def _callback_body(self, request, secret: str):
        if secret != self.channels.secret:
            return None, problem(404, "not-found", "No such callback")
        raw = read_body(request, CALLBACK_LIMIT)
        if raw is None:
            return None, problem(413, "too-large", "Callback too large")
        try:
            return json.loads(raw), None
        except ValueError as exc:
            return None, problem(400, "bad-json", "The body is not JSON", str(exc))

    @http("POST", "/notifications/sms/reports/<string:secret>")
    def delivery_reports_http(self, request, secret):
        body, refusal = self._callback_body(request, secret)
        if refusal:
            return refusal
        updated = self.record_delivery_reports(body)
        return json_response(200, {"updated": updated})

    def record_delivery_reports(self, body: dict) -> int:
        """A report may come before the dispatcher has recorded the send (the message is
        still `planned` under its claim): it is applied all the same."""
        now, updated, fallbacks = self.clock.now(), 0, []
        for report in sms.delivery_reports(body):
            key, group = report["message_id"], report["group"]
            if group in sms.DELIVERED_GROUPS:
                found = self.store.report(key, ("planned", "sent"), {
                    "status": "delivered", "delivered_at": now},
                    entry("delivered", report["description"], now))
            elif group in sms.FAILED_GROUPS:
                reason = f"{group}: {report['error'] or report['description']}"
                found = self.store.report(key, ("planned", "sent"), {
                    "status": "failed", "reason": reason}, entry("failed", reason, now))
                if found and found.get("alternate"):
                    fallbacks.append(fallback_message(found, now))
            else:
                continue
            updated += found is not None
        if fallbacks:
            self.store.add_messages(fallbacks, now)
        return updated

    @http("POST", "/notifications/sms/inbound/<string:secret>")
    def inbound_sms_http(self, request, secret):
        body, refusal = self._callback_body(request, secret)
        if refusal:
            return refusal
        acted = []
        for inbound in sms.inbound_messages(body):
            if inbound["keyword"] in ("STOP", "START"):
                self.store.set_opt_out("sms", inbound["from"], inbound["keyword"] == "STOP",
                                       f"inbound SMS {inbound['text']!r}")
                acted.append({"from": inbound["from"], "keyword": inbound["keyword"]})
                log.info("SMS %s from %s", inbound["keyword"], inbound["from"])
        return json_response(200, {"acted": acted})


SERVICE = NotificationsService
