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
