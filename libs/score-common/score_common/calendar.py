"""iCalendar (RFC 5545) for workshops, shared by scheduling's feeds and the .ics files
notifications attaches to its emails, so that both name a workshop day by the same UID.

Each workshop day is an event in the venue's own zone (with its VTIMEZONE), so a calendar
shows 08:00 WITA in Bali whatever zone the reader is in. A reschedule raises the SEQUENCE
and a cancellation sets STATUS:CANCELLED under the same UID, so calendars update the entries
they already hold instead of adding new ones.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from score_common.indonesia import MODULES

UID_DOMAIN = "score.ilo.org"


def instant(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def workshop_title(kind: str, module: int) -> str:
    return (f"SCORE module {module}: {MODULES[module]}" if kind == "module"
            else "SCORE results workshop")


def workshop_events(*, workshop_id: str, kind: str, module: int, timezone: str,
                    sessions: list[dict], location: str | None, description: str,
                    revision: int, cancelled: bool, stamp: datetime | None) -> list[Event]:
    zone = ZoneInfo(timezone)
    title = workshop_title(kind, module)
    events = []
    for number, session in enumerate(sessions, start=1):
        event = Event()
        event.add("uid", f"{workshop_id}-day{number}@{UID_DOMAIN}")
        event.add("summary", f"{title} (day {number} of {len(sessions)})")
        event.add("dtstart", instant(session["starts_at"]).astimezone(zone))
        event.add("dtend", instant(session["ends_at"]).astimezone(zone))
        event.add("dtstamp", stamp or instant(session["starts_at"]))
        event.add("sequence", revision)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        if location:
            event.add("location", location)
        event.add("description", description)
        events.append(event)
    return events


def calendar_bytes(events: list[Event], *, prodid: str, name: str | None = None,
                   method: str | None = None) -> bytes:
    """A VCALENDAR of these events; `method` (REQUEST, CANCEL) makes it an invitation."""
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    # what add_missing_timezones does, with each zone's VTIMEZONE built once per process
    # (building one takes tens of milliseconds; an email per recipient needs it every time)
    for position, tzid in enumerate(sorted(calendar.get_missing_tzids())):
        calendar.subcomponents.insert(position, _vtimezone(tzid))
    return calendar.to_ical()


@lru_cache(maxsize=16)
def _vtimezone(tzid: str) -> Timezone:
    return Timezone.from_tzid(tzid)
