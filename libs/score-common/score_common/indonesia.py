"""Indonesian reference data every service agrees on: the 38 provinces and their time zones.

Codes are ISO 3166-2:ID. A province fixes the zone (WIB, WITA, WIT) in which workshops and
visits are scheduled and reminders are timed.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class Province(NamedTuple):
    code: str
    name: str
    zone: str  # WIB, WITA or WIT
    tz: str    # IANA zone


_ZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}
# How Indonesians write each zone after a time ("08.00 WITA").
ZONE_ABBREVIATIONS = {zone: abbreviation for abbreviation, zone in _ZONES.items()}

_TABLE = [
    ("ID-AC", "Aceh", "WIB"), ("ID-SU", "Sumatera Utara", "WIB"),
    ("ID-SB", "Sumatera Barat", "WIB"), ("ID-RI", "Riau", "WIB"),
    ("ID-KR", "Kepulauan Riau", "WIB"), ("ID-JA", "Jambi", "WIB"),
    ("ID-SS", "Sumatera Selatan", "WIB"), ("ID-BB", "Kepulauan Bangka Belitung", "WIB"),
    ("ID-BE", "Bengkulu", "WIB"), ("ID-LA", "Lampung", "WIB"),
    ("ID-JK", "DKI Jakarta", "WIB"), ("ID-JB", "Jawa Barat", "WIB"),
    ("ID-BT", "Banten", "WIB"), ("ID-JT", "Jawa Tengah", "WIB"),
    ("ID-YO", "DI Yogyakarta", "WIB"), ("ID-JI", "Jawa Timur", "WIB"),
    ("ID-KB", "Kalimantan Barat", "WIB"), ("ID-KT", "Kalimantan Tengah", "WIB"),
    ("ID-BA", "Bali", "WITA"), ("ID-NB", "Nusa Tenggara Barat", "WITA"),
    ("ID-NT", "Nusa Tenggara Timur", "WITA"), ("ID-KS", "Kalimantan Selatan", "WITA"),
    ("ID-KI", "Kalimantan Timur", "WITA"), ("ID-KU", "Kalimantan Utara", "WITA"),
    ("ID-SA", "Sulawesi Utara", "WITA"), ("ID-GO", "Gorontalo", "WITA"),
    ("ID-ST", "Sulawesi Tengah", "WITA"), ("ID-SR", "Sulawesi Barat", "WITA"),
    ("ID-SN", "Sulawesi Selatan", "WITA"), ("ID-SG", "Sulawesi Tenggara", "WITA"),
    ("ID-MA", "Maluku", "WIT"), ("ID-MU", "Maluku Utara", "WIT"),
    ("ID-PA", "Papua", "WIT"), ("ID-PB", "Papua Barat", "WIT"),
    ("ID-PD", "Papua Barat Daya", "WIT"), ("ID-PT", "Papua Tengah", "WIT"),
    ("ID-PE", "Papua Pegunungan", "WIT"), ("ID-PS", "Papua Selatan", "WIT"),
]

PROVINCES: dict[str, Province] = {
    code: Province(code, name, zone, _ZONES[zone]) for code, name, zone in _TABLE
}

MODULES = {
    1: "Workplace Cooperation",
    2: "Quality Management",
    3: "Productivity and Cleaner Production",
    4: "Human Resource Management",
    5: "Occupational Safety and Health",
}


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@lru_cache(maxsize=32)
def _holidays(year: int):
    import holidays

    return holidays.country_holidays("ID", years=year)


def holiday_name(day) -> str | None:
    """The public holiday on this day in Indonesia, if any (from the `holidays` library)."""
    return _holidays(day.year).get(day)


def why_not_a_working_day(day) -> str | None:
    if day.weekday() >= 5:
        return f"{day.isoformat()} is a {WEEKDAYS[day.weekday()]}"
    name = holiday_name(day)
    return f"{day.isoformat()} is a public holiday in Indonesia ({name})" if name else None


def is_working_day(day) -> bool:
    """Workshops and visits avoid weekends and Indonesia's public holidays."""
    return why_not_a_working_day(day) is None
