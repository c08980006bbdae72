"""Coaching rules, free of nameko and MongoDB.

After the classroom workshop each enterprise gets a plan of on-site visits: three by default
(the 2010 pilot had three rounds of factory visits, weeks apart), each on a working day in
the enterprise's province.
"""
from __future__ import annotations

from datetime import date, timedelta

from score_common.indonesia import is_working_day

DEFAULT_VISITS = 3
DEFAULT_SPACING = timedelta(weeks=3)
# Visits and weeks between them, per module; programme variants may set their own.
VISIT_RHYTHM: dict[int, tuple[int, timedelta]] = {
    1: (3, timedelta(weeks=3)),   # Workplace Cooperation: the 2010 pilot's three rounds
    2: (3, timedelta(weeks=3)),
    3: (3, timedelta(weeks=4)),   # cleaner production changes take longer to show
    4: (3, timedelta(weeks=3)),
    5: (3, timedelta(weeks=3)),
}
MAX_MOVES = 30  # working days a visit may be pushed on by conflicts before staff must step in


def rhythm(module: int) -> tuple[int, timedelta]:
    return VISIT_RHYTHM.get(module, (DEFAULT_VISITS, DEFAULT_SPACING))


def plan_id(enrollment_id: str) -> str:
    return f"plan-{enrollment_id}"


def visit_id(enrollment_id: str, number: int) -> str:
    return f"vis-{enrollment_id}-{number}"


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def plan_visits(workshop_last_day: date, visits: int = DEFAULT_VISITS,
                spacing: timedelta = DEFAULT_SPACING) -> list[date]:
    """Visit dates, ``spacing`` apart from the workshop, each moved to a working day."""
    if visits < 1:
        raise ValueError("a visit plan needs at least one visit")
    planned, anchor = [], workshop_last_day
    for _ in range(visits):
        anchor = next_working_day(anchor + spacing)
        planned.append(anchor)
    return planned
