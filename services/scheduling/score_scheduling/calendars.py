"""iCalendar (RFC 5545) feeds: one for a workshop, one for everything a trainer runs.

Each workshop day is an event in the venue's own zone (with its VTIMEZONE), so a calendar
shows 08:00 WITA in Bali whatever zone the reader is in. A reschedule raises the SEQUENCE
and a cancellation sets STATUS:CANCELLED under the same UID, so subscribed calendars update
the entries they already hold instead of adding new ones.
"""
from __future__ import annotations

from score_common.calendar import calendar_bytes, instant, workshop_events

PRODID = "-//ILO SCORE Indonesia//Scheduling//EN"


def _events(workshop, venue) -> list:
    where = ", ".join(part for part in (
        venue.name if venue else None, venue.address if venue else None,
        workshop.district) if part)
    return workshop_events(
        workshop_id=workshop.pk, kind=workshop.kind, module=workshop.module,
        timezone=workshop.timezone, sessions=list(workshop.sessions), location=where,
        description=f"Workshop {workshop.pk}, organised by {workshop.partner_id}. "
                    f"Trainers: {', '.join(workshop.trainer_ids)}.",
        revision=workshop.revision, cancelled=workshop.status == "cancelled",
        stamp=max((instant(entry["at"]) for entry in workshop.history), default=None))


def feed(name: str, workshops: list, venues: dict) -> bytes:
    return calendar_bytes([event for workshop in workshops
                           for event in _events(workshop, venues.get(workshop.venue_id))],
                          prodid=PRODID, name=name)
