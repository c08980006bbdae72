"""Notifications' repository: messages written in bulk with conditional updates, reached by
`_id` only (minute buckets for the dispatcher, lookups for the delivery log)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from score_common.store import Repository, duplicate_indexes, upsert_many, utcnow
from score_notifications.domain import minute_of
from score_notifications.models import (
    Cursor, DueBucket, Lookup, Message, OptOut, PartnerContact, SendClaim, Subject,
    TrainerContact, Transmission,
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
        rows = [m.to_mongo() for m in messages]
        taken = duplicate_indexes(
            lambda: Message._get_collection().insert_many(rows, ordered=False))
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
        self.add_to_sets(DueBucket, due)
        self.add_to_sets(Lookup, lookups)

    def file_due(self, keys_at: dict[str, datetime]) -> None:
        """File keys under the minute they are next due (retries, deferrals, checks)."""
        due = defaultdict(list)
        for key, at in keys_at.items():
            due[minute_of(at)].append(key)
        self.add_to_sets(DueBucket, due)

    def take(self, messages: list[dict], token: str, now: datetime,
             suffix: str = "") -> list[dict]:
        """Win the claims of these messages' current generations; returns those won. Only
        the winner of a generation writes to the message until it starts the next one."""
        if not messages:
            return []
        rows = [{"_id": f"{m['_id']}:{m.get('generation', 0)}{suffix}", "token": token,
                 "at": now} for m in messages]
        taken = duplicate_indexes(
            lambda: SendClaim._get_collection().insert_many(rows, ordered=False))
        return [m for index, m in enumerate(messages) if index not in taken]

    def cancel(self, keys: list[str], reason: str) -> int:
        """Cancel every message of these still waiting; one a dispatcher holds is already
        going and is left to it."""
        cancelled, now = 0, utcnow()
        for part in chunks(keys):
            waiting = [m for m in self.raw_messages(part, {"status": 1, "generation": 1})
                       if m["status"] == "planned"]
            won = [m["_id"] for m in self.take(waiting, f"cancel:{now.isoformat()}", now)]
            if won:
                cancelled += Message._get_collection().update_many(
                    {"_id": {"$in": won}},
                    {"$set": {"status": "cancelled", "reason": reason},
                     "$push": {"history": entry("cancelled", reason, now)}}).modified_count
        return cancelled

    def forget_old_claims(self, older_than=None) -> int:
        """Also send claims and transmissions, once no reader can still act on them."""
        cutoff = utcnow() - (older_than or timedelta(days=2))
        removed = SendClaim._get_collection().delete_many({"at": {"$lt": cutoff}}).deleted_count
        removed += Transmission._get_collection().delete_many(
            {"at": {"$lt": cutoff}}).deleted_count
        return removed + super().forget_old_claims()

    # -- dispatching -----------------------------------------------------------------------------
    def cursor(self) -> str | None:
        found = Cursor.objects(pk="dispatch").first()
        return found.minute if found else None

    def move_cursor(self, minute: str) -> None:
        upsert_many(Cursor._get_collection(),
                    [({"_id": "dispatch"}, {"$set": {"minute": minute}})])

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

    def take_or_see(self, messages: list[dict], token: str, now: datetime,
                    suffix: str = "") -> tuple[list[dict], list[tuple[dict, dict]]]:
        """Claim these messages' generations: (those won, [(message, the claim that holds
        it)] for the others)."""
        won = self.take(messages, token, now, suffix)
        mine = {m["_id"] for m in won}
        others = [m for m in messages if m["_id"] not in mine]
        if not others:
            return won, []
        claims = {c["_id"]: c for c in SendClaim._get_collection().find({"_id": {"$in": [
            f"{m['_id']}:{m.get('generation', 0)}{suffix}" for m in others]}})}
        return won, [(m, claims[f"{m['_id']}:{m.get('generation', 0)}{suffix}"])
                     for m in others if f"{m['_id']}:{m.get('generation', 0)}{suffix}" in claims]

    def settle(self, updates: list[tuple[str, str, dict, dict | None]]) -> set[str]:
        """Record outcomes as (key, claim token, $set fields, history entry), written by the
        holder of the message's claim alone; alike outcomes go in one write."""
        groups: dict[str, tuple[dict, list[str]]] = {}
        for key, token, changes, history in updates:
            update = {"$set": {**changes, "claim": token or None}}
            if history:
                update["$push"] = {"history": history}
            if changes.get("status") == "planned":  # waits again: a new generation
                update["$inc"] = {"generation": 1}
            signature = repr(sorted((k, repr(v)) for k, v in update.items()))
            groups.setdefault(signature, (update, []))[1].append(key)
        collection = Message._get_collection()
        for update, keys in groups.values():
            for part in chunks(keys):
                # a delivery report may have settled one already (it can beat us here)
                collection.update_many({"_id": {"$in": part}, "status": "planned"}, update)
        return {key for key, *_ in updates}

    def note_transmissions(self, token: str, batches: list[list[str]], now: datetime) -> None:
        Transmission._get_collection().insert_many([
            {"_id": f"tx:{token}:{index}", "keys": keys, "at": now}
            for index, keys in enumerate(batches)])

    def transmissions(self, tokens: set[str]) -> set[str]:
        """Keys a dispatcher (by its claim tokens) had begun giving to the mail server."""
        ids = [f"tx:{token}:{index}" for token in tokens for index in range(
            CHUNK // 25 + 1)]
        return {key for part in chunks(ids, 1000) for doc in
                Transmission._get_collection().find({"_id": {"$in": part}})
                for key in doc["keys"]}

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
            upsert_many(OptOut._get_collection(), [
                ({"_id": key}, {"$set": {"at": utcnow(), "source": source}})])
        else:
            OptOut._get_collection().delete_one({"_id": key})

    def trainer(self, trainer_id: str) -> TrainerContact | None:
        return TrainerContact.objects(pk=trainer_id).first()

    def partner(self, partner_id: str) -> PartnerContact | None:
        return PartnerContact.objects(pk=partner_id).first()

    def put_partner(self, partner_id: str, fields: dict) -> None:
        upsert_many(PartnerContact._get_collection(), [({"_id": partner_id}, {"$set": fields})])

    def put_trainer(self, trainer_id: str, fields: dict) -> None:
        upsert_many(TrainerContact._get_collection(), [({"_id": trainer_id}, {"$set": fields})])

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
