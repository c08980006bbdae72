"""What to send whom and when, free of nameko and MongoDB.

Workers are reached by SMS and managers and trainers' paperwork by email (DOMAIN.md): a
manager is emailed first, a worker or trainer texted first, and each falls back to the
other address when theirs is missing or invalid (and, for SMS, when it fails for good).
Reminders are timed in the zone of the venue (or the enterprise): 09:00 seven days and one
day before a workshop, 06:30 on the morning of each day. Nobody who withheld consent is
reminded, nothing is planned for a moment already past, and a reminder whose moment passed
while nothing could send it expires instead of arriving late.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import phonenumbers

REMINDER_HOUR = time(9, 0)
MORNING_OF = time(6, 30)
DEFAULT_QUIET_HOURS = (time(21, 0), time(6, 0))

# How late a message may still go out; past it, it expires unsent.
STALE_AFTER = {
    "registration_confirmation": timedelta(days=2),
    "workshop_in_7_days": timedelta(days=2),
    "workshop_tomorrow": timedelta(hours=12),
    "workshop_day_morning": timedelta(hours=3),
    "workshop_rescheduled": timedelta(days=2),
    "workshop_cancelled": timedelta(days=2),
    "visit_reminder": timedelta(hours=12),
    "visit_overdue": timedelta(days=3),
    "report_ready": timedelta(days=14),
}
KINDS = tuple(STALE_AFTER)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def template_of(kind: str) -> str:
    """workshop_day_2_morning is written by the workshop_day_morning template."""
    return "workshop_day_morning" if re.fullmatch(r"workshop_day_\d+_morning", kind) else kind


@dataclass(frozen=True)
class Recipient:
    recipient_id: str
    name: str
    role: str  # manager | worker | trainer
    phone: str | None = None
    email: str | None = None
    language: str = "id"
    consent: bool = True

    @classmethod
    def of_participant(cls, participant: dict) -> "Recipient":
        return cls(participant["participant_id"], participant["name"], participant["role"],
                   participant.get("phone"), participant.get("email"),
                   participant.get("language") or "id",
                   bool(participant.get("consent_to_reminders")))


@dataclass(frozen=True)
class Route:
    channel: str | None  # None: nowhere to send
    address: str | None
    alternate: dict = field(default_factory=dict)
    problem: str | None = None  # why an address was not usable


def phone_problem(phone: str) -> str | None:
    try:
        number = phonenumbers.parse(phone, "ID")
    except phonenumbers.NumberParseException as exc:
        return f"phone {phone!r} is not a phone number ({exc})"
    if not phonenumbers.is_valid_number(number):
        return f"phone {phone!r} is not a valid number"
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return f"phone {phone!r} is not a mobile number (SMS cannot reach it)"
    return None


def e164(phone: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(phone, "ID"),
                                      phonenumbers.PhoneNumberFormat.E164)


def email_problem(email: str) -> str | None:
    return None if _EMAIL.match(email or "") else f"email {email!r} is not an email address"


def route(recipient: Recipient) -> Route:
    """The channel and address to use, the fallback, or why there is none."""
    options, problems = [], []
    if recipient.phone:
        problem = phone_problem(recipient.phone)
        if problem:
            problems.append(problem)
        else:
            options.append(("sms", e164(recipient.phone)))
    if recipient.email:
        problem = email_problem(recipient.email)
        if problem:
            problems.append(problem)
        else:
            options.append(("email", recipient.email))
    if recipient.role == "manager":
        options.sort(key=lambda option: option[0] != "email")
    if not options:
        problems = problems or ["no phone and no email"]
        return Route(None, None, problem="; ".join(problems))
    (channel, address), rest = options[0], options[1:]
    alternate = {"channel": rest[0][0], "address": rest[0][1]} \
        if rest and channel == "sms" else {}
    return Route(channel, address, alternate, "; ".join(problems) or None)


def message_key(subject_id: str, recipient_id: str, kind: str, due_at: datetime) -> str:
    """The idempotency key of one send: recipient, subject, kind and time."""
    raw = f"{recipient_id}|{subject_id}|{kind}|{due_at.astimezone(timezone.utc).isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def workshop_moments(days: list[date], tz: str, now: datetime) -> list[tuple[str, datetime]]:
    """The reminders of a workshop still ahead of `now` (UTC instants)."""
    zone = ZoneInfo(tz)
    first = min(days)
    moments = [
        ("workshop_in_7_days", datetime.combine(first - timedelta(days=7), REMINDER_HOUR, zone)),
        ("workshop_tomorrow", datetime.combine(first - timedelta(days=1), REMINDER_HOUR, zone)),
    ]
    for number, day in enumerate(sorted(days), start=1):
        moments.append((f"workshop_day_{number}_morning",
                        datetime.combine(day, MORNING_OF, zone)))
    return [(kind, due.astimezone(timezone.utc)) for kind, due in moments if due > now]


def visit_moments(day: date, tz: str, now: datetime) -> list[tuple[str, datetime]]:
    due = datetime.combine(day - timedelta(days=1), REMINDER_HOUR, ZoneInfo(tz))
    return [("visit_reminder", due.astimezone(timezone.utc))] if due > now else []


def not_after(kind: str, due_at: datetime) -> datetime:
    return due_at + STALE_AFTER[template_of(kind)]


def parse_quiet_hours(text: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"quiet hours must look like 21:00-06:00, got {text!r}") from None
    return start, end


def quiet_until(moment: datetime, tz: str, quiet: tuple[time, time]) -> datetime | None:
    """When an SMS due at `moment` may go, if that is in the recipient's quiet hours (None
    when it may go now)."""
    local = moment.astimezone(ZoneInfo(tz))
    start, end = quiet
    now = local.time()
    inside = (start <= now or now < end) if start > end else (start <= now < end)
    if not inside:
        return None
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, ZoneInfo(tz)).astimezone(timezone.utc)


RETRY_BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
                 timedelta(minutes=30), timedelta(hours=2))


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` transient failures, or None: give up."""
    if attempts > len(RETRY_BACKOFF):
        return None
    return now + RETRY_BACKOFF[attempts - 1]


def minute_of(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")
