"""Reporting's repository: the event log, each entity's events, and the folded records."""
from __future__ import annotations

import time
from datetime import datetime

from score_common.envelope import Event
from score_common.store import Repository, as_utc, duplicate_indexes, json_form
from score_reporting import projections
from score_reporting.models import (
    CohortRecord, EnterpriseRecord, RecordedEvent, Report, TrainingActivity,
)

def chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


FOLDS = {"enr": (EnterpriseRecord, projections.enterprise),
         "ws": (CohortRecord, projections.cohort)}


def event_row(event: Event | dict) -> dict:
    if isinstance(event, dict):  # an envelope as it travels
        return {"_id": event["event_id"], "event_type": event["event_type"],
                "version": event["version"], "producer": event["producer"],
                "occurred_at": datetime.fromisoformat(event["occurred_at"]),
                "correlation_id": event["correlation_id"], "payload": event["payload"]}
    return {"_id": event.event_id, "event_type": event.event_type, "version": event.version,
            "producer": event.producer, "occurred_at": event.occurred_at,
            "correlation_id": event.correlation_id, "payload": json_form(event.payload)}


def as_folded(row: dict) -> dict:
    return {"event_id": row["_id"], "event_type": row["event_type"],
            "occurred_at": as_utc(row["occurred_at"]).isoformat(), "payload": row["payload"]}


class ReportingRepository(Repository):
    # -- the log ---------------------------------------------------------------------------------
    def record(self, events: list[Event]) -> set[int]:
        """Keep events once each; returns the indexes of those kept before."""
        rows = [event_row(e) for e in events]
        return duplicate_indexes(
            lambda: RecordedEvent._get_collection().insert_many(rows, ordered=False))

    def events(self, event_ids: list[str]) -> list[dict]:
        return [as_folded(row) for part in chunks(event_ids, 1000)
                for row in RecordedEvent._get_collection().find({"_id": {"$in": part}})]

    def all_events(self, batch: int = 2000):
        yield from RecordedEvent._get_collection().find({}, batch_size=batch)

    # -- the read models -------------------------------------------------------------------------
    def refold(self, entity: str, event_ids: list[str]) -> dict:
        """Add events to an entity's record and fold all of its events again. The record is
        written through version claims: a writer that raced us refolds with our events too,
        so the last write always holds every event."""
        prefix, _, entity_id = entity.partition(":")
        doc_cls, fold = FOLDS[prefix]
        result = {}

        def change(doc):
            known = list(dict.fromkeys([*doc.event_ids, *event_ids]))
            result["state"] = fold(entity_id, self.events(known))
            if doc.state == result["state"] and len(known) == len(doc.event_ids):
                return False
            doc.state, doc.event_ids = result["state"], known

        if doc_cls.objects(pk=entity_id).only("id").first() is None:
            fresh = doc_cls(id=entity_id)
            change(fresh)
            if not self.insert_many([fresh]):
                return result["state"]
        self.update(doc_cls, entity_id, change)
        return result["state"]

    def enterprise(self, enrollment_id: str) -> dict | None:
        doc = EnterpriseRecord.objects(pk=enrollment_id).first()
        return doc.state if doc else None

    def cohort(self, workshop_id: str) -> dict | None:
        doc = CohortRecord.objects(pk=workshop_id).first()
        return doc.state if doc else None

    def states(self, doc_cls) -> list[dict]:
        return [row["state"] for row in doc_cls._get_collection().find({}, {"state": 1})]

    def snapshot(self) -> dict:
        """Every read model, for comparing a rebuild with what was built live."""
        return {name: {row["_id"]: row["state"] for row in doc_cls._get_collection().find(
            {}, {"state": 1})} for name, doc_cls in (("enterprises", EnterpriseRecord),
                                                     ("cohorts", CohortRecord))}

    def rebuild(self) -> dict:
        """Throw the read models away and fold them again from the recorded events, all in
        memory and written in bulk; events recorded meanwhile are folded in afterwards."""
        started = time.perf_counter()
        by_entity: dict[str, list[dict]] = {}
        seen = set()
        for row in self.all_events():
            seen.add(row["_id"])
            folded = as_folded(row)
            for entity in projections.entities(row["event_type"], row["payload"]):
                by_entity.setdefault(entity, []).append(folded)
        self.clear_read_models()
        for prefix, (doc_cls, fold) in FOLDS.items():
            docs = [doc_cls(id=entity.partition(":")[2],
                            event_ids=list(dict.fromkeys(e["event_id"] for e in events)),
                            state=fold(entity.partition(":")[2], events))
                    for entity, events in by_entity.items() if entity.startswith(prefix + ":")]
            for part in chunks(docs, 500):
                self.insert_many(part)
        late = [row for row in RecordedEvent._get_collection().find({}, {"payload": 1,
                                                                         "event_type": 1})
                if row["_id"] not in seen]
        for row in late:
            for entity in projections.entities(row["event_type"], row["payload"]):
                self.refold(entity, [row["_id"]])
        return {"events": len(seen) + len(late), "entities": len(by_entity),
                "seconds": round(time.perf_counter() - started, 2)}

    def clear_read_models(self) -> None:
        for doc_cls in (EnterpriseRecord, CohortRecord):
            doc_cls._get_collection().delete_many({})

    def other_activities(self) -> list[dict]:
        return [{"activity_id": row["_id"], "title": row["title"], "kind": row["kind"],
                 "module": row.get("module"), "province": row.get("province"),
                 "organiser": row["organiser"], "first_day": row["day"],
                 "attended_women": row.get("attended_women", 0),
                 "attended_men": row.get("attended_men", 0)}
                for row in TrainingActivity._get_collection().find({})]

    # -- reports ---------------------------------------------------------------------------------
    def report(self, report_id: str) -> Report | None:
        return Report.objects(pk=report_id).first()

    def has_report(self, report_id: str) -> bool:
        return Report.objects(pk=report_id).only("id").first() is not None
