"""Scheduling rules, free of nameko and MongoDB.

A module workshop is two consecutive days, both working days (no weekend, no Indonesian public
holiday), held at a venue in one province and in that province's time zone (WIB, WITA, WIT).
Its trainers are certified for the module, work in the province, are available and are not
booked elsewhere on those days. Accepted enrollments are placed into the earliest workshop of
their module, province and partner that starts within their preferred period and has room for
the enterprise and its whole team; otherwise they wait, in order of arrival.

Every check returns {field: [reasons]} so that staff are told each problem at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from score_common.indonesia import PROVINCES, is_working_day, why_not_a_working_day

WORKSHOP_KINDS = ("module", "results")
DEFAULT_START = time(8, 0)
DEFAULT_END = time(16, 0)
MAX_CAPACITY_ENTERPRISES = 30
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")


def first_two_working_days(start: date) -> list[date]:
    day = start
    while True:
        following = day + timedelta(days=1)
        if is_working_day(day) and is_working_day(following):
            return [day, following]
        day = following


WORKSHOP_DAYS = {"module": 2, "results": 1}


def check_days(days: list[date], today: date, kind: str = "module") -> dict[str, list[str]]:
    """A workshop's days: two consecutive ones for a module (one for a results workshop),
    each a working day, none in the past."""
    errors: dict[str, list[str]] = {}
    length = WORKSHOP_DAYS[kind]
    if len(days) != length:
        return {"days": [f"a {kind} workshop is {length} day{'s' if length > 1 else ''}, "
                         f"got {len(days)}"]}
    for first, second in zip(days, days[1:]):
        if second != first + timedelta(days=1):
            errors["days"] = [f"the second day must follow the first: {first.isoformat()} "
                              f"then {(first + timedelta(days=1)).isoformat()}, got "
                              f"{second.isoformat()}"]
    for index, day in enumerate(days):
        reason = why_not_a_working_day(day)
        if reason:
            errors.setdefault(f"days[{index}]", []).append(reason)
        if day < today:
            errors.setdefault(f"days[{index}]", []).append(
                f"{day.isoformat()} is in the past (today is {today.isoformat()})")
    return errors


def timezone_of(province: str) -> str:
    return PROVINCES[province].tz


def sessions_utc(days: list[date], province: str, start: time = DEFAULT_START,
                 end: time = DEFAULT_END) -> list[dict]:
    """Each day's session as UTC instants, from the venue's local clock."""
    zone = ZoneInfo(timezone_of(province))
    return [{"day": day,
             "starts_at": datetime.combine(day, start, zone).astimezone(ZoneInfo("UTC")),
             "ends_at": datetime.combine(day, end, zone).astimezone(ZoneInfo("UTC"))}
            for day in days]


def local_time(instant: datetime, province: str) -> datetime:
    return instant.astimezone(ZoneInfo(timezone_of(province)))


# -- trainers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainerView:
    trainer_id: str
    name: str
    modules: tuple[int, ...]
    provinces: tuple[str, ...]
    unavailable: tuple[tuple[date, date, str], ...]  # (first day, last day, reason)
    active: bool = True


def check_trainer(trainer: TrainerView | None, trainer_id: str, module: int, province: str,
                  days: list[date], kind: str = "module") -> list[str]:
    """Why this trainer cannot run this workshop (empty when they can)."""
    if trainer is None:
        return [f"no trainer {trainer_id!r} is registered"]
    if not trainer.active:
        return [f"{trainer.name} ({trainer_id}) is no longer active"]
    reasons = []
    if kind == "module" and module not in trainer.modules:
        certified = ", ".join(map(str, trainer.modules)) or "none"
        reasons.append(f"{trainer.name} ({trainer_id}) is not certified for module {module} "
                       f"(certified: {certified})")
    if province not in trainer.provinces:
        reasons.append(f"{trainer.name} ({trainer_id}) does not work in "
                       f"{PROVINCES[province].name}")
    for first, last, reason in trainer.unavailable:
        clash = [day for day in days if first <= day <= last]
        if clash:
            reasons.append(f"{trainer.name} ({trainer_id}) is unavailable from "
                           f"{first.isoformat()} to {last.isoformat()} ({reason})")
    return reasons


# -- workshops -----------------------------------------------------------------------------------
def check_capacity(capacity_enterprises: int, capacity_seats: int,
                   venue_capacity: int) -> dict[str, list[str]]:
    errors = {}
    if not 1 <= capacity_enterprises <= MAX_CAPACITY_ENTERPRISES:
        errors["capacity_enterprises"] = [f"must be 1 to {MAX_CAPACITY_ENTERPRISES}"]
    if capacity_seats < 2:
        errors["capacity_seats"] = ["must be at least 2 (a manager and a worker)"]
    elif capacity_seats > venue_capacity:
        errors["capacity_seats"] = [f"over capacity: the venue holds {venue_capacity}"]
    return errors


def workshop_id(module: int, province: str, first_day: date, suffix: str) -> str:
    return f"ws-m{module}-{province.lower()}-{first_day:%Y%m%d}-{suffix}"


def registration_id(enrollment_id: str) -> str:
    return f"reg-{enrollment_id}"


def booking_id(resource: str, day: date) -> str:
    """One booking per trainer (or venue) per day, decided by an insert on this id."""
    return f"{resource}:{day.isoformat()}"


@dataclass(frozen=True)
class Candidate:
    workshop_id: str
    first_day: date
    enterprises_free: int
    seats_free: int


def choose_workshop(candidates: list[Candidate], period: tuple[date, date],
                    team_size: int) -> str | None:
    """The earliest workshop starting within the preferred period with room for the team."""
    fitting = [c for c in candidates if fits_period(c.first_day, period)
               and c.enterprises_free >= 1 and c.seats_free >= team_size]
    return min(fitting, key=lambda c: (c.first_day, c.workshop_id)).workshop_id \
        if fitting else None


def fits_period(first_day: date, period: tuple[date, date]) -> bool:
    return period[0] <= first_day <= period[1]


# -- attendance ----------------------------------------------------------------------------------
ATTENDANCE = ("present", "absent", "excused")


def qualification(participants: list[dict], attendance: dict, days: list[str]) -> tuple[bool,
                                                                                        str]:
    """Whether a team qualifies for coaching: at least one manager and one worker present on
    every day of the workshop. (qualified, reason)."""
    def attended(member):
        return all(attendance.get(member["participant_id"], {}).get(day) == "present"
                   for day in days)

    missing = []
    for role in ("manager", "worker"):
        members = [m for m in participants if m["role"] == role]
        if not any(attended(m) for m in members):
            absences = "; ".join(
                f"{m['name']}: " + ", ".join(
                    f"{attendance.get(m['participant_id'], {}).get(day, 'not recorded')} "
                    f"on {day}" for day in days
                    if attendance.get(m["participant_id"], {}).get(day) != "present")
                for m in members) or "none in the team"
            missing.append(f"no {role} attended both days ({absences})")
    if missing:
        return False, "; ".join(missing)
    return True, "a manager and a worker attended both days"


def attendance_complete(participant_ids: list[str], attendance: dict, days: list[str]) -> bool:
    return all(day in attendance.get(pid, {}) for pid in participant_ids for day in days)
