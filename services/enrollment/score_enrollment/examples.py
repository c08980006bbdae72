"""Worked examples of the partner contract: a valid submission and bad ones with their answers.

docs/partners.md quotes them; the tests send every bad one through the real intake (over
RabbitMQ, as a partner would) and check each is answered naming its field and reason.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

VALID = {
    "schema_version": 1,
    "module": 1,
    "enterprise": {
        "name": "PT Tjokro Bersaudara",
        "registration_number": "8120001234567",
        "sector": "automotive_parts",
        "province": "ID-JK",
        "district": "Pulogadung",
        "workforce": {"women": 40, "men": 85},
        "contact": {"name": "Budi Santoso", "email": "budi@tjokro.example.co.id",
                    "phone": "0812-3456-7890"},
    },
    "team": [
        {"name": "Budi Santoso", "role": "manager", "sex": "male", "phone": "+62 812 3456 7890",
         "email": "budi@tjokro.example.co.id", "language": "id", "consent_to_reminders": True},
        {"name": "Siti Rahayu", "role": "worker", "sex": "female", "phone": "0857 1234 5678",
         "language": "id", "consent_to_reminders": True},
    ],
    "preferred_period": {"start": "2027-03-22", "end": "2027-04-30"},
}


def valid_submission(registration_number: str = "8120001234567", *, today: date | None = None,
                     name: str | None = None, module: int = 1) -> dict:
    """The valid example for another enterprise, with a period starting 30 days from today."""
    document = copy.deepcopy(VALID)
    document["enterprise"]["registration_number"] = registration_number
    document["module"] = module
    if name:
        document["enterprise"]["name"] = name
    start = (today or date.today()) + timedelta(days=30)
    document["preferred_period"] = {"start": start.isoformat(),
                                    "end": (start + timedelta(days=45)).isoformat()}
    return document


@dataclass(frozen=True)
class BadInput:
    name: str
    change: Callable[[dict], object] | None  # edits the document; or None with `body`
    field: str                                # the path the answer must name
    reason: str                               # words the reason must contain
    body: bytes | None = None
    content_type: str = "application/json"


def _set(path: str, value):
    def change(document):
        *parents, leaf = path.split(".")
        target = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(leaf) if leaf.isdigit() else leaf]
        else:
            target[int(leaf) if leaf.isdigit() else leaf] = value
    return change


_DELETE = object()


def _only_workers(document):
    document["team"][0]["role"] = "worker"


def _no_contact_for_member(document):
    document["team"][1].pop("phone")


def _same_phone_twice(document):
    document["team"][1]["phone"] = document["team"][0]["phone"]


def _team_larger_than_workforce(document):
    document["enterprise"]["workforce"] = {"women": 1, "men": 0}


BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput("not JSON", None, "_body", "not JSON", body=b"{module: 1"),
    BadInput("not UTF-8", None, "_body", "not UTF-8", body=b"\xff\xfe{}"),
    BadInput("a JSON array", None, "_body", "JSON object", body=b"[1, 2]"),
    BadInput("wrong content type", None, "_content_type", "application/json",
             body=json.dumps(VALID).encode(), content_type="text/plain"),
    BadInput("oversized", None, "_body", "limit is 256 KiB",
             body=b'{"padding": "' + b"x" * (300 * 1024) + b'"}'),
    BadInput("unknown schema version", _set("schema_version", 2), "schema_version",
             "unsupported version 2"),
    BadInput("no schema version", _set("schema_version", _DELETE), "schema_version", "required"),
    BadInput("module 6", _set("module", 6), "module", "1 to 5"),
    BadInput("module as text", _set("module", "1"), "module", "integer"),
    BadInput("misspelt field", _set("enterprise.registraton_number", "1"),
             "enterprise.registraton_number", "unknown field"),
    BadInput("no enterprise name", _set("enterprise.name", _DELETE), "enterprise.name",
             "required"),
    BadInput("NIB too short", _set("enterprise.registration_number", "81200012"),
             "enterprise.registration_number", "13-digit NIB"),
    BadInput("NIB with letters", _set("enterprise.registration_number", "81200012345AB"),
             "enterprise.registration_number", "not all digits"),
    BadInput("unknown sector", _set("enterprise.sector", "rockets"), "enterprise.sector",
             "must be one of"),
    BadInput("province by name", _set("enterprise.province", "Jawa Barat"),
             "enterprise.province", "Jawa Barat is ID-JB"),
    BadInput("no such province", _set("enterprise.province", "ID-XX"), "enterprise.province",
             "38 provinces"),
    BadInput("no district", _set("enterprise.district", ""), "enterprise.district", "length"),
    BadInput("negative workforce", _set("enterprise.workforce.women", -3),
             "enterprise.workforce.women", "greater than or equal to 0"),
    BadInput("nobody works there", _set("enterprise.workforce", {"women": 0, "men": 0}),
             "enterprise.workforce", "at least 1"),
    BadInput("contact email invalid", _set("enterprise.contact.email", "budi@"),
             "enterprise.contact.email", "not a valid email"),
    BadInput("contact phone is a landline", _set("enterprise.contact.phone", "021 4890 1234"),
             "enterprise.contact.phone", "landline"),
    BadInput("contact phone abroad", _set("enterprise.contact.phone", "+41 79 123 45 67"),
             "enterprise.contact.phone", "Indonesian number"),
    BadInput("contact phone not a number", _set("enterprise.contact.phone", "call me"),
             "enterprise.contact.phone", "not a phone number"),
    BadInput("no contact", _set("enterprise.contact", _DELETE), "enterprise.contact",
             "required"),
    BadInput("one-person team", _set("team", [VALID["team"][0]]), "team", "needs 2 to 30"),
    BadInput("no manager", _only_workers, "team", "no manager"),
    BadInput("member role unknown", _set("team.1.role", "owner"), "team[1].role",
             "must be one of"),
    BadInput("member sex missing", _set("team.1.sex", _DELETE), "team[1].sex", "required"),
    BadInput("member unreachable", _no_contact_for_member, "team[1]", "phone or an email"),
    BadInput("member phone too short", _set("team.1.phone", "0812 34"), "team[1].phone",
             "not a valid Indonesian number"),
    BadInput("member email invalid", _set("team.0.email", "budi at tjokro"), "team[0].email",
             "not a valid email"),
    BadInput("consent as text", _set("team.1.consent_to_reminders", "yes"),
             "team[1].consent_to_reminders", "true or false"),
    BadInput("no consent given", _set("team.1.consent_to_reminders", _DELETE),
             "team[1].consent_to_reminders", "required"),
    BadInput("two members, one phone", _same_phone_twice, "team[1].phone", "same phone"),
    BadInput("team larger than workforce", _team_larger_than_workforce, "team",
             "workforce is 1"),
    BadInput("period ends before it starts", _set("preferred_period.end", "2020-01-01"),
             "preferred_period.end", "before start"),
    BadInput("period in the past", _set("preferred_period.start", "2020-01-01"),
             "preferred_period.start", "in the past"),
    BadInput("period not a date", _set("preferred_period.start", "22/03/2027"),
             "preferred_period.start", "YYYY-MM-DD"),
    BadInput("no preferred period", _set("preferred_period", _DELETE), "preferred_period",
             "required"),
)


def bad_body(bad: BadInput, base: dict) -> bytes:
    if bad.body is not None:
        return bad.body
    document = copy.deepcopy(base)
    bad.change(document)
    return json.dumps(document).encode()
