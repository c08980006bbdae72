"""Reminder planning, free of nameko and MongoDB.

Workers are reached by SMS and managers by email (DOMAIN.md); each falls back to the other
channel when they gave no address for their own. Reminders are timed in the venue's zone:
a confirmation at once, 7 days and 1 day before the workshop at 09:00, and 06:30 on the
morning of each workshop day. Nobody who withheld consent is reminded, and nothing is
planned for a time already past.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

REMINDER_HOUR = time(9, 0)
MORNING_OF = time(6, 30)


@dataclass(frozen=True)
class PlannedReminder:
    key: str
    recipient_id: str
    channel: str
    address: str
    kind: str
    due_at: datetime  # UTC
    language: str


def channel_for(participant: dict) -> tuple[str, str] | None:
    preferred = ["email", "phone"] if participant["role"] == "manager" else ["phone", "email"]
    for field in preferred:
        if participant.get(field):
            return ("sms" if field == "phone" else "email"), participant[field]
    return None


def reminder_key(subject_id: str, recipient_id: str, kind: str, due_at: datetime) -> str:
    """The idempotency key of one send: recipient, subject, kind and time."""
    raw = f"{recipient_id}|{subject_id}|{kind}|{due_at.astimezone(timezone.utc).isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def plan_workshop_reminders(subject_id: str, days: list[date], tz: str, participants: list[dict],
                            now: datetime) -> list[PlannedReminder]:
    zone = ZoneInfo(tz)
    first = min(days)
    moments = [("registration_confirmation", now)]
    moments.append(("workshop_in_7_days",
                    datetime.combine(first - timedelta(days=7), REMINDER_HOUR, zone)))
    moments.append(("workshop_tomorrow",
                    datetime.combine(first - timedelta(days=1), REMINDER_HOUR, zone)))
    for number, day in enumerate(sorted(days), start=1):
        moments.append((f"workshop_day_{number}_morning", datetime.combine(day, MORNING_OF, zone)))
    planned = []
    for participant in participants:
        if not participant.get("consent_to_reminders"):
            continue
        channel = channel_for(participant)
        if channel is None:
            continue
        for kind, due in moments:
            if kind != "registration_confirmation" and due <= now:
                continue
            due_utc = due.astimezone(timezone.utc)
            planned.append(PlannedReminder(
                key=reminder_key(subject_id, participant["participant_id"], kind, due_utc),
                recipient_id=participant["participant_id"], channel=channel[0],
                address=channel[1], kind=kind, due_at=due_utc,
                language=participant.get("language", "id")))
    return planned
