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
        by_module = _grouped_sum(facts, "$module", 1)
        return {
            "enrollments": sum(by_module.values()),
            "enterprises": len(_grouped_sum(facts, "$enterprise_id", 1)),
            "participants": {"women": _total(facts, "$team_women"),
                             "men": _total(facts, "$team_men")},
            "by_module": {str(k): v for k, v in sorted(by_module.items())},
        }


# FerretDB v1 computes only the first accumulator of a $group correctly (the others come back
# 0), and sums field paths to 0 when grouping by null: so one accumulator per pipeline, and a
# constant group key for totals.
def _grouped_sum(collection, key: str, value, match: dict | None = None) -> dict:
    pipeline = ([{"$match": match}] if match else []) + [
        {"$group": {"_id": key, "n": {"$sum": value}}}]
    return {row["_id"]: row["n"] for row in collection.aggregate(pipeline)}


def _total(collection, value, match: dict | None = None) -> int:
    return _grouped_sum(collection, "total", value, match).get("total", 0)


def _jsonable(value):
    from datetime import date, datetime

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value
