"""Enrollment rules, free of nameko and MongoDB: identities and the lifecycle."""
from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("5c0e2f3a-8a52-4f0e-9d55-0b7e6d2f1a10")

STATUSES = ("submitted", "accepted", "rejected", "waitlisted", "in_training", "coaching",
            "completed", "withdrawn")

TRANSITIONS = {
    "submitted": {"accepted", "rejected"},
    "accepted": {"waitlisted", "in_training", "withdrawn"},
    "waitlisted": {"in_training", "withdrawn"},
    "in_training": {"coaching", "withdrawn"},
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
