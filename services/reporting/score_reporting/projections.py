"""From events to read-model rows, free of nameko and MongoDB."""
from __future__ import annotations

from score_common.envelope import Event


def enrollment_fact(event: Event) -> dict:
    payload = event.payload
    enterprise = payload["enterprise"]
    team_sexes = [member["sex"] for member in payload["team"]]
    return {
        "id": payload["enrollment_id"],
        "enterprise_id": enterprise["enterprise_id"],
        "partner_id": payload["partner_id"],
        "module": payload["module"],
        "province": enterprise["province"],
        "sector": enterprise["sector"],
        "workforce_women": enterprise["workforce"]["women"],
        "workforce_men": enterprise["workforce"]["men"],
        "team_women": team_sexes.count("female"),
        "team_men": team_sexes.count("male"),
        "enrolled_at": event.occurred_at,
    }


PROJECTIONS = {"enrollment_accepted": ("enrollment_facts", enrollment_fact)}
