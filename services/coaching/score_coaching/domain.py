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
ANY_MODULE = 0
# Visits and the time between them per (programme, module); ANY_MODULE stands for every module
# of a programme. Staff override any of these at run time (set_visit_rhythm); the most
# specific entry wins.
VISIT_RHYTHM: dict[tuple[str, int], tuple[int, timedelta]] = {
    ("score", 1): (3, timedelta(weeks=3)),   # Workplace Cooperation: the 2010 pilot's rounds
    ("score", 3): (3, timedelta(weeks=4)),   # cleaner production changes take longer to show
    # Hospitality Coaching is coaching-led: more, closer visits
    ("score-hoco", ANY_MODULE): (4, timedelta(weeks=2)),
    # micro entrepreneurs have little time away from the business: fewer visits
    ("scorelike", ANY_MODULE): (2, timedelta(weeks=3)),
}
MAX_MOVES = 30  # working days a visit may be pushed on by conflicts before staff must step in
# A visit keeps its trainer for this many moves before a free trainer of the province takes it:
# continuity with one coach matters more than a few days.
MOVES_BEFORE_HANDOVER = 5


def rhythm_key(programme: str, module: int) -> str:
    return f"{programme}:{module}"


def rhythm(programme: str, module: int,
           configured: dict[str, tuple[int, timedelta]] | None = None) -> tuple[int, timedelta]:
    """The number of visits and their spacing for a programme's module: staff's setting if
    there is one, else the built-in table, most specific first, else three visits 3 weeks
    apart."""
    configured = configured or {}
    for key in ((programme, module), (programme, ANY_MODULE), ("score", module)):
        if rhythm_key(*key) in configured:
            return configured[rhythm_key(*key)]
        if key in VISIT_RHYTHM:
            return VISIT_RHYTHM[key]
    return DEFAULT_VISITS, DEFAULT_SPACING


def coach_for(workshop_trainers: list[str], team_index: int) -> str:
    """Teams of a workshop are shared out among its trainers, who know them from the
    classroom."""
    return workshop_trainers[team_index % len(workshop_trainers)]


def resolve_conflict(current_trainer: str, moves: int, free_trainers: list[str],
                     workshop_trainers: list[str]) -> tuple[str, str] | None:
    """What to do with a visit whose trainer is booked that day: ("handover", trainer) to a
    free trainer that day, ("move", "") to the next working day, or None when staff must
    decide. A co-trainer of the workshop takes it at once; another trainer of the province
    only after the visit has moved MOVES_BEFORE_HANDOVER times."""
    free = [t for t in free_trainers if t != current_trainer]
    co_trainers = [t for t in workshop_trainers if t in free]
    if co_trainers:
        return "handover", co_trainers[0]
    if moves >= MOVES_BEFORE_HANDOVER and free:
        return "handover", free[0]
    if moves < MAX_MOVES:
        return "move", ""
    return None


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
