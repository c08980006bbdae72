"""Reporting's repository: idempotent inserts and aggregations."""
from __future__ import annotations

from mongoengine import NotUniqueError

from score_common.envelope import Event
from score_common.store import Repository
from score_reporting.models import EnrollmentFact, RecordedEvent

ROW_TYPES = {"enrollment_facts": EnrollmentFact}


class ReportingRepository(Repository):
    def record(self, event: Event) -> bool:
        """Keep the event; False if it was already kept."""
        try:
            RecordedEvent(id=event.event_id, event_type=event.event_type, version=event.version,
                          producer=event.producer, occurred_at=event.occurred_at,
                          correlation_id=event.correlation_id,
                          payload=_jsonable(event.payload)).save(force_insert=True)
            return True
        except NotUniqueError:
            return False

    def project(self, row_type: str, row: dict) -> bool:
        try:
            ROW_TYPES[row_type](**row).save(force_insert=True)
            return True
        except NotUniqueError:
            return False

    def enrollment_counts(self) -> dict:
        facts = EnrollmentFact._get_collection()
        totals = list(facts.aggregate([{"$group": {
            "_id": None, "enrollments": {"$sum": 1},
            "team_women": {"$sum": "$team_women"}, "team_men": {"$sum": "$team_men"}}}]))
        by_module = {row["_id"]: row["n"] for row in facts.aggregate(
            [{"$group": {"_id": "$module", "n": {"$sum": 1}}}])}
        enterprises = len(list(facts.aggregate([{"$group": {"_id": "$enterprise_id"}}])))
        total = totals[0] if totals else {"enrollments": 0, "team_women": 0, "team_men": 0}
        return {"enrollments": total["enrollments"], "enterprises": enterprises,
                "participants": {"women": total["team_women"], "men": total["team_men"]},
                "by_module": {str(k): v for k, v in sorted(by_module.items())}}


def _jsonable(value):
    from datetime import date, datetime

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value
