"""Messages planned from events alone: who is told what, through which channel, when.

Each message's key is its idempotency key (recipient, subject, kind, time), so planning the
same event twice plans nothing new. A notice that goes at once (a confirmation, a
cancellation) takes its key from the event's time and its due time from the clock.
"""
from __future__ import annotations

from datetime import datetime

from score_common.store import as_date, json_form
from score_notifications import domain
from score_notifications.domain import Recipient
from score_notifications.models import Message
from score_notifications.store import entry


def workshop_context(workshop: dict, **extra) -> dict:
    venue = workshop.get("venue") or {}
    sessions = [{"day": s["day"], "starts_at": s["starts_at"], "ends_at": s["ends_at"]}
                for s in workshop.get("sessions") or []]
    location = ", ".join(p for p in (venue.get("name"), venue.get("address"),
                                     venue.get("district")) if p)
    return json_form({
        "workshop_id": workshop["workshop_id"], "workshop_kind": workshop.get("kind", "module"),
        "module": workshop["module"], "days": sorted(workshop["days"]),
        "sessions": sessions, "venue_name": venue.get("name") or "",
        "venue_address": venue.get("address") or "",
        "calendar": {"workshop_id": workshop["workshop_id"],
                     "kind": workshop.get("kind", "module"), "module": workshop["module"],
                     "sessions": sessions, "location": location,
                     "revision": workshop.get("revision", 0), "cancelled": False}
        if sessions else None, **extra})


class Planner:
    def __init__(self, now: datetime):
        self.now = now  # the clock's now: when notices go, and what "ahead" means
        self.undeliverable: list[Message] = []

    def message(self, subject_id: str, recipient: Recipient, kind: str, due_at: datetime,
                timezone: str, context: dict, *, key_time: datetime | None = None,
                workshop_id: str | None = None, visit_id: str | None = None) -> Message | None:
        """One message to one recipient, routed to their channel; None without consent.
        One with no usable address is kept as undeliverable, with the reason."""
        if not recipient.consent:
            return None
        route = domain.route(recipient)
        key = domain.message_key(subject_id, recipient.recipient_id, kind, key_time or due_at)
        message = Message(
            id=key, subject_id=subject_id, workshop_id=workshop_id, visit_id=visit_id,
            recipient_id=recipient.recipient_id, recipient_name=recipient.name,
            role=recipient.role, channel=route.channel or "sms",
            address=route.address or recipient.phone or recipient.email or "",
            alternate=route.alternate, kind=kind, language=recipient.language,
            timezone=timezone, due_at=due_at, not_after=domain.not_after(kind, due_at),
            context={**context, "name": recipient.name, "role": recipient.role},
            created_at=self.now)
        if route.channel is None:
            message.status = "undeliverable"
            message.reason = route.problem
            message.history = [entry("undeliverable", route.problem, self.now)]
        else:
            message.history = [entry("planned", route.problem, self.now)]
        return message

    def workshop_reminders(self, subject_id: str, workshop: dict, recipients: list[Recipient],
                           notice: str | None, event_time: datetime, **extra) -> list[Message]:
        """A notice at once (confirmation, new dates), then each reminder still ahead."""
        days = [as_date(day) for day in workshop["days"]]
        context = workshop_context(workshop, **extra)
        planned = []
        for recipient in recipients:
            if notice:
                planned.append(self.message(subject_id, recipient, notice, self.now,
                                            workshop["timezone"], context, key_time=event_time,
                                            workshop_id=workshop["workshop_id"]))
            for kind, due in domain.workshop_moments(days, workshop["timezone"], self.now):
                day_number = int(kind.split("_")[2]) if kind.startswith("workshop_day_") \
                    else 1
                planned.append(self.message(
                    subject_id, recipient, kind, due, workshop["timezone"],
                    {**context, "day_number": day_number}, workshop_id=workshop["workshop_id"]))
        return [m for m in planned if m is not None]

    def notice(self, subject_id: str, recipients: list[Recipient], kind: str, timezone: str,
               context: dict, event_time: datetime, **ids) -> list[Message]:
        planned = [self.message(subject_id, r, kind, self.now, timezone, context,
                                key_time=event_time, **ids) for r in recipients]
        return [m for m in planned if m is not None]


def visit_subject(visit: dict) -> str:
    """A visit on one day with one trainer: a move or a handover is a new subject, so the
    cancellation of the old one and the plan of the new one may arrive in either order."""
    return f"visit:{visit['visit_id']}:{as_date(visit['day']).isoformat()}:{visit['trainer_id']}"
