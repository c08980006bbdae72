"""Enrollment rules, free of nameko and MongoDB: identities and the lifecycle."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

NAMESPACE = uuid.UUID("5c0e2f3a-8a52-4f0e-9d55-0b7e6d2f1a10")

STATUSES = ("submitted", "accepted", "rejected", "waitlisted", "in_training", "coaching",
            "completed", "withdrawn")

TRANSITIONS = {
    "submitted": {"accepted", "rejected"},
    "accepted": {"waitlisted", "in_training", "withdrawn"},
    "waitlisted": {"in_training", "withdrawn"},
    # Back to the waitlist when a workshop is cancelled and no other has a seat.
    "in_training": {"coaching", "waitlisted", "withdrawn"},
    "coaching": {"completed", "withdrawn"},
    "rejected": set(),
    "completed": set(),
    "withdrawn": set(),
}


class InvalidTransition(ValueError):
    pass


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none (final)"
        raise InvalidTransition(f"an enrollment that is {current} cannot become {target}; "
                                f"allowed: {allowed}")


def enrollment_id(partner_id: str, partner_message_id: str) -> str:
    """The same partner message always names the same enrollment: resubmitting is harmless."""
    return "enr-" + uuid.uuid5(NAMESPACE, f"{partner_id}\x00{partner_message_id}").hex[:20]


def enterprise_id(registration_number: str) -> str:
    return "ent-" + uuid.uuid5(NAMESPACE, registration_number.strip()).hex[:20]


def team_with_ids(enrollment: str, team: list[dict]) -> list[dict]:
    return [{**member, "participant_id": f"{enrollment}-p{i + 1}"} for i, member in enumerate(team)]


def submission_key(partner_id: str, partner_message_id: str) -> str:
    return f"{partner_id}:{partner_message_id}"


def module_seat_id(enterprise: str, module: int) -> str:
    return f"{enterprise}:m{module}"


# Legal forms that say nothing about which enterprise it is.
_LEGAL_FORMS = {"pt", "cv", "ud", "tbk", "persero", "koperasi", "fa", "firma", "pd", "perum"}
_NON_WORD = re.compile(r"[^0-9a-z]+")


def name_key(name: str, district: str) -> str:
    """'PT. Tjokro Bersaudara, Tbk' in 'Pulogadung' and 'Tjokro  Bersaudara' there match."""
    # "P.T." is "PT": drop the dots of abbreviations before splitting into words.
    words = [w for w in _NON_WORD.split(name.lower().replace(".", ""))
             if w and w not in _LEGAL_FORMS]
    place = "-".join(w for w in _NON_WORD.split(district.lower()) if w)
    return f"{' '.join(words)}|{place}"


PARTNER_CODE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
PARTNER_KINDS = ("training_institution", "university", "employer_association", "trade_union",
                 "foundation", "government", "consultancy", "other")
API_KEY_PREFIX = "score"


def new_api_key() -> tuple[str, str]:
    """(public key id, the full key to hand to the partner once)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def api_key_digest(key: str) -> str:
    # The secret is 256 random bits, so a fast hash is as safe as a slow one and keeps every
    # request cheap; a slow hash protects guessable passwords, which these are not.
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_key(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def key_matches(key: str, digest: str) -> bool:
    return hmac.compare_digest(api_key_digest(key), digest)
