"""iCalendar (RFC 5545) feeds: one for a workshop, one for everything a trainer runs.

Each workshop day is an event in the venue's own zone (with its VTIMEZONE), so a calendar
shows 08:00 WITA in Bali whatever zone the reader is in. A reschedule raises the SEQUENCE
and a cancellation sets STATUS:CANCELLED under the same UID, so subscribed calendars update
the entries they already hold instead of adding new ones.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from score_common.indonesia import MODULES

PRODID = "-//ILO SCORE Indonesia//Scheduling//EN"
UID_DOMAIN = "score.ilo.org"


def _instant(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _events(workshop, venue) -> list[Event]:
    zone = ZoneInfo(workshop.timezone)
    title = (f"SCORE module {workshop.module}: {MODULES[workshop.module]}"
             if workshop.kind == "module" else "SCORE results workshop")
    where = ", ".join(part for part in (
        venue.name if venue else None, venue.address if venue else None,
        workshop.district) if part)
    sequence = workshop.revision
    changed = max((_instant(entry["at"]) for entry in workshop.history), default=None)
    events = []
    for number, session in enumerate(workshop.sessions, start=1):
        event = Event()
        event.add("uid", f"{workshop.pk}-day{number}@{UID_DOMAIN}")
        event.add("summary", f"{title} (day {number} of {len(workshop.sessions)})")
        event.add("dtstart", _instant(session["starts_at"]).astimezone(zone))
        event.add("dtend", _instant(session["ends_at"]).astimezone(zone))
        event.add("dtstamp", changed or _instant(session["starts_at"]))
        event.add("sequence", sequence)
        event.add("status", "CANCELLED" if workshop.status == "cancelled" else "CONFIRMED")
        if where:
            event.add("location", where)
        event.add("description", f"Workshop {workshop.pk}, organised by {workshop.partner_id}. "
                                 f"Trainers: {', '.join(workshop.trainer_ids)}.")
        events.append(event)
    return events


def feed(name: str, workshops: list, venues: dict) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for workshop in workshops:
        for event in _events(workshop, venues.get(workshop.venue_id)):
            calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
