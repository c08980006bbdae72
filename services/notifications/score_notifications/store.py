"""Notifications' repository: messages written in bulk with conditional updates, reached by
`_id` only (minute buckets for the dispatcher, lookups for the delivery log)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from score_common.store import Repository, utcnow
from score_notifications.domain import minute_of
from score_notifications.models import (
    Cursor, DueBucket, Lookup, Message, OptOut, Subject, TrainerContact,
)

CHUNK = 500


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def entry(status: str, detail: str | None = None, at: datetime | None = None) -> dict:
    return {"status": status, "at": (at or utcnow()).isoformat(), "detail": detail}


class NotificationsRepository(Repository):
    # -- planning --------------------------------------------------------------------------------
    def subject(self, subject_id: str) -> Subject | None:
        return Subject.objects(pk=subject_id).first()

    def add_messages(self, messages: list[Message], now: datetime) -> set[str]:
        """Insert messages whose keys are new and index them (due bucket, delivery log);
        returns the keys inserted now. A key seen before is left as it is."""
        if not messages:
            return set()
        collection = Message._get_collection()
        try:
            collection.insert_many([m.to_mongo() for m in messages], ordered=False)
            taken = set()
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e["code"] != 11000 for e in errors):
                raise
            taken = {e["index"] for e in errors}
        # Indexing again what an earlier, interrupted delivery inserted is harmless.
        self.index(messages, now)
        return {m.pk for index, m in enumerate(messages) if index not in taken}

    def index(self, messages: list[Message], now: datetime) -> None:
        due = defaultdict(list)
        lookups = defaultdict(list)
        for message in messages:
            # never file a message under a minute the dispatcher may have swept already
            due[minute_of(max(message.due_at, now))].append(message.pk)
            lookups[f"recipient:{message.recipient_id}"].append(message.pk)
            if message.workshop_id:
                lookups[f"workshop:{message.workshop_id}"].append(message.pk)
        self._add_to_sets(DueBucket, due)
        self._add_to_sets(Lookup, lookups)

    @staticmethod
    def _add_to_sets(doc_cls, keys_by_id: dict[str, list[str]]) -> None:
        if keys_by_id:
            doc_cls._get_collection().bulk_write([
                UpdateOne({"_id": doc_id}, {"$addToSet": {"keys": {"$each": keys}}},
                          upsert=True) for doc_id, keys in keys_by_id.items()], ordered=False)

    def file_due(self, keys_at: dict[str, datetime]) -> None:
        """File keys under the minute they are next due (retries, deferrals, checks)."""
        due = defaultdict(list)
        for key, at in keys_at.items():
            due[minute_of(at)].append(key)
        self._add_to_sets(DueBucket, due)

    def cancel(self, keys: list[str], reason: str) -> int:
        """Cancel every message of these that has not been claimed for sending."""
        cancelled = 0
        for part in chunks(keys):
            cancelled += Message._get_collection().update_many(
                {"_id": {"$in": part}, "status": "planned"},
                {"$set": {"status": "cancelled", "reason": reason},
                 "$push": {"history": entry("cancelled", reason)}}).modified_count
        return cancelled

    # -- dispatching -----------------------------------------------------------------------------
    def cursor(self) -> str | None:
        found = Cursor.objects(pk="dispatch").first()
        return found.minute if found else None

    def move_cursor(self, minute: str) -> None:
        Cursor._get_collection().update_one(
            {"_id": "dispatch"}, {"$set": {"minute": minute}}, upsert=True)

    def buckets(self, minutes: list[str]) -> dict[str, list[str]]:
        found = {}
        for part in chunks(minutes, 1000):
            for doc in DueBucket._get_collection().find({"_id": {"$in": part}}):
                found[doc["_id"]] = doc.get("keys", [])
        return found

    def drop_buckets(self, minutes: list[str]) -> None:
        for part in chunks(minutes, 1000):
            DueBucket._get_collection().delete_many({"_id": {"$in": part}})

    def raw_messages(self, keys: list[str], fields: dict | None = None) -> list[dict]:
        found = []
        for part in chunks(keys):
            found.extend(Message._get_collection().find({"_id": {"$in": part}}, fields))
        return found

    def claim(self, keys: list[str], now: datetime, token: str) -> list[dict]:
        """Take the planned messages among `keys` that are due, for this dispatcher alone."""
        if not keys:
            return []
        Message._get_collection().update_many(
            {"_id": {"$in": keys}, "status": "planned", "due_at": {"$lte": now}},
            {"$set": {"status": "sending", "claim": token, "claimed_at": now}})
        return [m for m in self.raw_messages(keys) if m.get("claim") == token
                and m["status"] == "sending"]

    def settle(self, updates: list[tuple[str, str, dict, dict | None]]) -> set[str]:
        """Apply (key, claim token, $set fields, history entry) updates, each only if the
        message is still held under that claim; returns the keys settled."""
        if not updates:
            return set()
        operations = []
        for key, token, changes, history in updates:
            update = {"$set": changes}
            if history:
                update["$push"] = {"history": history}
            operations.append(UpdateOne(
                {"_id": key, "claim": token, "status": {"$in": ["sending", "transmitting"]}},
                update))
        Message._get_collection().bulk_write(operations, ordered=False)
        return {key for key, *_ in updates}

    def mark(self, keys: list[str], token: str, status: str) -> None:
        Message._get_collection().update_many(
            {"_id": {"$in": keys}, "claim": token}, {"$set": {"status": status}})

    def opted_out(self, channel_addresses: list[str]) -> set[str]:
        found = set()
        for part in chunks(channel_addresses):
            found.update(doc["_id"] for doc in OptOut._get_collection().find(
                {"_id": {"$in": part}}, {"_id": 1}))
        return found

    # -- preferences and contacts ----------------------------------------------------------------
    def set_opt_out(self, channel: str, address: str, opted_out: bool, source: str) -> None:
        key = f"{channel}:{address}"
        if opted_out:
            OptOut._get_collection().update_one(
                {"_id": key}, {"$set": {"at": utcnow(), "source": source}}, upsert=True)
        else:
            OptOut._get_collection().delete_one({"_id": key})

    def trainer(self, trainer_id: str) -> TrainerContact | None:
        return TrainerContact.objects(pk=trainer_id).first()

    def put_trainer(self, trainer_id: str, fields: dict) -> None:
        TrainerContact._get_collection().update_one({"_id": trainer_id}, {"$set": fields},
                                                    upsert=True)

    # -- delivery reports and the log ------------------------------------------------------------
    def report(self, key: str, from_statuses: tuple[str, ...], changes: dict,
               history: dict) -> dict | None:
        return Message._get_collection().find_one_and_update(
            {"_id": key, "status": {"$in": list(from_statuses)}},
            {"$set": changes, "$push": {"history": history}})

    def log(self, lookup_id: str) -> list[Message]:
        lookup = Lookup.objects(pk=lookup_id).first()
        if lookup is None:
            return []
        messages = []
        for part in chunks(list(lookup.keys)):
            messages.extend(Message.objects(pk__in=part))
        return sorted(messages, key=lambda m: (m.due_at, m.pk))

    def messages_of(self, subject_id: str) -> list[Message]:
        subject = self.subject(subject_id)
        if subject is None:
            return []
        return sorted(Message.objects(pk__in=list(subject.keys)), key=lambda m: m.due_at)
