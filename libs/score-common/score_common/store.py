"""Each service's MongoDB store: the connection provider, versioned writes and the inbox.

FerretDB v1 (our embedded default) updates a document by reading and rewriting it inside the
server, so two concurrent updates of one document can lose one; only an insert on a unique
index is race-safe. Every write of a shared document therefore goes through a version claim:
the writer inserts ``<collection>:<id>:<version+1>`` into a claims collection, and only the
writer whose insert succeeded may write that version. The loser reloads and tries again.
On MongoDB this costs one small insert and changes nothing else.
"""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import mongoengine
from mongoengine.connection import get_db
from nameko.extensions import DependencyProvider
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=30)
INBOX_LEASE = timedelta(seconds=60)
# One small document per unpublished event, written before the change that records it: the
# outbox sweeper reads this short collection instead of querying every service collection
# (on FerretDB a query on anything but _id reads the whole collection).
OUTBOX_POINTERS = "_outbox_pointers"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (naive ones were written as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def json_form(value):
    """A value as it travels in an event: dates and times as ISO text (times in UTC; naive
    ones were stored as UTC), recursively through dicts and lists. BSON cannot hold a bare
    date, and templates and folds read the text."""
    if isinstance(value, dict):
        return {k: json_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_form(v) for v in value]
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_date(value) -> date:
    """A day as stored or sent (a date, a datetime from a DateField, or ISO text) as a date."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


class ConcurrencyConflict(Exception):
    """Another writer saved this document first; reload and apply the change again."""


class AlreadyExists(Exception):
    pass


class VersionedDocument(mongoengine.Document):
    """A document written only through version claims, with its outbox in the same document.

    ``outbox`` holds the envelopes of events recorded with the state changes they describe, so
    a change and the intent to publish it are one write. An event is pending while its pointer
    (in ``_outbox_pointers``) exists; the relay publishes it and deletes the pointer, and the
    next save of the document drops it from the outbox. Publishing never rewrites the document.
    """

    # A field dropped from the model may still be in documents written before: ignore it on
    # load rather than refuse the document.
    meta = {"abstract": True, "strict": False}

    version = mongoengine.IntField(default=0, min_value=0)
    # [{"event_id", "envelope": the envelope as JSON text}]: as text, an event is one field to
    # the database rather than a tree of them (FerretDB's write cost grows with the fields).
    outbox = mongoengine.ListField(mongoengine.DictField())

    def add_to_outbox(self, envelope: dict) -> None:
        self.outbox.append(outbox_entry(envelope))
        self._unannounced_events = [*self.unannounced_events, envelope["event_id"]]
        self._unpublished_events = [*self.unpublished_events, envelope]

    @property
    def unannounced_events(self) -> list[str]:
        """Events recorded since this document was loaded, with no outbox pointer yet."""
        return getattr(self, "_unannounced_events", None) or []

    @property
    def unpublished_events(self) -> list[dict]:
        """Events recorded since this document was loaded that this process has not relayed."""
        return getattr(self, "_unpublished_events", None) or []

    def mark_published(self, event_ids) -> None:
        published = set(event_ids)
        self._unpublished_events = [e for e in self.unpublished_events
                                    if e["event_id"] not in published]

    def keep_in_outbox(self, event_ids) -> None:
        keep = set(event_ids)
        self.outbox = [e for e in self.outbox if e["event_id"] in keep]



def outbox_entry(envelope: dict) -> dict:
    """An event as a document's outbox stores it."""
    return {"event_id": envelope["event_id"],
            "envelope": json.dumps(envelope, default=json_form)}


def stored_envelope(entry: dict) -> dict:
    """An envelope from a stored outbox entry (written as text, or as a tree before that)."""
    text = entry.get("envelope")
    return json.loads(text) if isinstance(text, str) else entry


class KeySet(VersionedDocument):
    """A set of keys under one id (a minute's due messages, a workshop's messages), grown by
    many writers at once. FerretDB runs an update as read, modify, write without isolation,
    so two concurrent $addToSet can lose a key: a key set grows through version claims
    instead (Repository.add_to_sets)."""

    meta = {"abstract": True, "strict": False}

    id = mongoengine.StringField(primary_key=True)
    keys = mongoengine.ListField(mongoengine.StringField())

class Inbox:
    """Which events a consumer has handled, keyed by (consumer, event id) on the unique _id.

    A claim is an insert, so two deliveries of one event can never both be handled at once.
    A claim left by a crashed worker expires after its lease and may be taken over; handlers
    are written so that completing a half-done event again has no second effect.
    """

    NEW, DONE, BUSY = "new", "done", "busy"

    def __init__(self, alias: str):
        self.alias = alias

    @property
    def collection(self):
        return get_db(self.alias)["_inbox"]

    def claim(self, consumer: str, event_id: str) -> tuple[str, str | None]:
        key = f"{consumer}:{event_id}"
        token = uuid.uuid4().hex
        now = utcnow()
        try:
            self.collection.insert_one({"_id": key, "consumer": consumer, "event_id": event_id,
                                        "status": "processing", "token": token,
                                        "claimed_at": now})
            return self.NEW, token
        except DuplicateKeyError:
            pass
        existing = self.collection.find_one({"_id": key})
        if existing is None:  # released between our insert and read: try once more
            return self.claim(consumer, event_id)
        if existing["status"] == "done":
            return self.DONE, None
        if now - as_utc(existing["claimed_at"]) < INBOX_LEASE:
            return self.BUSY, None
        self.collection.update_one({"_id": key, "token": existing["token"]},
                                   {"$set": {"token": token, "claimed_at": now}})
        return self.NEW, token

    def complete(self, consumer: str, event_id: str, token: str) -> None:
        self.collection.update_one({"_id": f"{consumer}:{event_id}", "token": token},
                                   {"$set": {"status": "done", "completed_at": utcnow()}})

    def release(self, consumer: str, event_id: str, token: str) -> None:
        self.collection.delete_one({"_id": f"{consumer}:{event_id}", "token": token})


class Repository:
    """The worker's handle on its service's database. Services subclass it with their queries."""

    def __init__(self, alias: str):
        self.alias = alias

    @property
    def db(self):
        return get_db(self.alias)

    def outbox_backlog(self) -> tuple[int, float | None]:
        """How many events wait to be published, and the age in seconds of the oldest."""
        pointers = list(self.db[OUTBOX_POINTERS].find({}, {"since": 1}))
        if not pointers:
            return 0, None
        oldest = min(as_utc(p["since"]) for p in pointers if p.get("since"))
        return len(pointers), (utcnow() - oldest).total_seconds()

    def ping(self) -> float:
        started = time.perf_counter()
        self.db.command("ping")
        return (time.perf_counter() - started) * 1000

    # -- versioned writes ---------------------------------------------------------------------
    @property
    def _claims(self):
        return self.db["_version_claims"]

    def _announce_outbox(self, doc: VersionedDocument) -> None:
        """Point the sweeper at the events this write records, before the write itself.

        A pointer whose write never lands finds no event in its document and expires.
        """
        self._point_at(doc._get_collection_name(),
                       [(doc.pk, event_id) for event_id in doc.unannounced_events])
        doc._unannounced_events = []

    def _point_at(self, collection: str, events: list[tuple[str, str]]) -> None:
        """A pointer for each (document id, event id) about to be written to `collection`."""
        if not events:
            return
        now = utcnow()
        pointers = [{"_id": event_id, "collection": collection, "doc_id": doc_id, "since": now}
                    for doc_id, event_id in events]
        duplicate_indexes(lambda: self.db[OUTBOX_POINTERS].insert_many(pointers, ordered=False))

    def _prune_published(self, doc: VersionedDocument) -> None:
        """Drop events already published (their pointers are gone) from a document about to be
        saved: the outbox holds what is pending, not the document's history."""
        new = set(doc.unannounced_events)
        earlier = [e["event_id"] for e in doc.outbox if e["event_id"] not in new]
        if not earlier:
            return
        pending = {p["_id"] for p in self.db[OUTBOX_POINTERS].find(
            {"_id": {"$in": earlier}}, {"_id": 1})}
        doc.keep_in_outbox(pending | new)

    def insert(self, doc: VersionedDocument) -> VersionedDocument:
        """Create a document; raises AlreadyExists if its id is taken (race-safe)."""
        if self.insert_many([doc]):
            raise AlreadyExists(f"{doc._get_collection_name()} {doc.pk} exists")
        return doc

    def insert_many(self, docs: list[mongoengine.Document]) -> set[int]:
        """Create documents of one collection in one write; returns the indexes of those whose
        id was taken (each insert is race-safe on its own).

        Versioned documents' outbox pointers are written first, in one write too, and removed
        again for the documents that turned out to exist: their events were never recorded.
        """
        if not docs:
            return set()
        rows = []
        for doc in docs:
            if isinstance(doc, VersionedDocument):
                doc.version = 1
            doc.validate()
            rows.append(doc.to_mongo())
        events = {index: getattr(doc, "unannounced_events", []) for index, doc in enumerate(docs)}
        taken = self.insert_rows(docs[0]._get_collection_name(), rows)
        for index, doc in enumerate(docs):
            if isinstance(doc, VersionedDocument):
                doc._unannounced_events = []
                if index in taken:
                    doc.mark_published(events[index])  # never recorded: nothing to relay
            if index not in taken:
                # as mongoengine's own save leaves a saved document
                doc._created = False
                doc._clear_changed_fields()
        return taken

    def insert_rows(self, collection: str, rows: list[dict]) -> set[int]:
        """Create rows, already in their documents' stored form, in one write; returns the
        indexes of those whose id was taken. For a hot path that cannot afford building
        mongoengine documents: the caller owns the rows' fidelity to their document class.

        Every event in a row's outbox (entries made by `outbox_entry`, on a new row all of
        them new) gets its pointer first, removed again if the row turned out to exist.
        """
        if not rows:
            return set()
        self._point_at(collection, [(row["_id"], entry["event_id"]) for row in rows
                                    for entry in row.get("outbox", ())])
        taken = duplicate_indexes(lambda: self.db[collection].insert_many(rows, ordered=False))
        orphaned = [entry["event_id"] for index in taken
                    for entry in rows[index].get("outbox", ())]
        if orphaned:
            self.db[OUTBOX_POINTERS].delete_many({"_id": {"$in": orphaned}})
        return taken

    def save(self, doc: VersionedDocument) -> VersionedDocument:
        """Write a loaded document as its next version, or raise ConcurrencyConflict."""
        current = doc.version
        collection = doc._get_collection_name()
        now = utcnow()
        for next_version in range(current + 1, current + 4):
            claim_id = f"{collection}:{doc.pk}:{next_version}"
            try:
                self._claims.insert_one({"_id": claim_id, "at": now})
                break
            except DuplicateKeyError:
                claim = self._claims.find_one({"_id": claim_id})
                # A claim older than its lease whose version never landed belongs to a writer
                # that died between claim and write: step over it to the next version.
                stale = claim is not None and now - as_utc(claim["at"]) > CLAIM_LEASE
                if not stale or type(doc).objects(pk=doc.pk, version=current).count() == 0:
                    raise ConcurrencyConflict(f"{claim_id} was claimed by another writer") from None
        else:
            raise ConcurrencyConflict(f"{collection}:{doc.pk} has too many stale claims")
        doc.version = next_version
        self._prune_published(doc)
        self._announce_outbox(doc)
        try:
            doc.save(save_condition={"version": current})
        except mongoengine.errors.SaveConditionError:
            doc.version = current
            raise ConcurrencyConflict(f"{collection}:{doc.pk} changed under us") from None
        return doc

    def update(self, doc_cls, pk, change, attempts: int = 60):
        """Load, apply ``change(doc)`` and save, reloading on every conflict.

        ``change`` may return False to say there is nothing to write.
        """
        for attempt in range(attempts):
            doc = doc_cls.objects(pk=pk).first()
            if doc is None:
                raise doc_cls.DoesNotExist(f"{doc_cls.__name__} {pk} does not exist")
            if change(doc) is False:
                return doc
            try:
                return self.save(doc)
            except ConcurrencyConflict:
                # Full jitter, capped: contenders spread out instead of colliding in step.
                time.sleep(random.uniform(0, min(0.25, 0.002 * 2 ** attempt)))
        raise ConcurrencyConflict(f"{doc_cls.__name__} {pk}: gave up after {attempts} conflicts")

    def put(self, doc_cls, pk: str, fields: dict):
        """Create a document or bring an existing one to these fields (a repeated command
        changes nothing)."""
        existing = doc_cls.objects(pk=pk).first()
        if existing is None:
            if not self.insert_many([doc_cls(id=pk, **fields)]):
                return doc_cls.objects.get(pk=pk)

        def change(doc):
            if all(getattr(doc, name) == value for name, value in fields.items()):
                return False
            for name, value in fields.items():
                setattr(doc, name, value)

        return self.update(doc_cls, pk, change)

    def add_to_sets(self, doc_cls, keys_by_id: dict[str, list[str]]) -> None:
        """Add keys to KeySet documents, creating those that do not exist, without losing a
        key to a concurrent writer."""
        if not keys_by_id:
            return
        existing = {doc.pk for doc in doc_cls.objects(pk__in=list(keys_by_id)).only("id")}
        fresh = [doc_cls(id=doc_id, keys=list(dict.fromkeys(keys)))
                 for doc_id, keys in keys_by_id.items() if doc_id not in existing]
        taken = self.insert_many(fresh)
        pending = [doc_id for doc_id in keys_by_id if doc_id in existing] + \
            [fresh[index].pk for index in taken]
        for doc_id in pending:
            wanted = keys_by_id[doc_id]

            def grow(doc):
                missing = [key for key in dict.fromkeys(wanted) if key not in set(doc.keys)]
                if not missing:
                    return False
                doc.keys = [*doc.keys, *missing]

            for _ in range(5):
                try:
                    self.update(doc_cls, doc_id, grow)
                    break
                except doc_cls.DoesNotExist:  # removed meanwhile (a retired bucket): anew
                    if not self.insert_many([doc_cls(id=doc_id, keys=list(dict.fromkeys(
                            wanted)))]):
                        break

    def forget_old_claims(self, older_than: timedelta = timedelta(hours=1)) -> int:
        return self._claims.delete_many({"at": {"$lt": utcnow() - older_than}}).deleted_count


def upsert_many(collection, updates: list[tuple[dict, dict]]) -> None:
    """(filter, update) upserts that writers may race on: on FerretDB two may both try the
    insert, and the loser's is refused as a duplicate, so it is applied again as the update
    it now is."""
    if not updates:
        return
    try:
        collection.bulk_write([UpdateOne(f, u, upsert=True) for f, u in updates],
                              ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        collection.bulk_write([UpdateOne(*updates[e["index"]]) for e in errors],
                              ordered=False)


def duplicate_indexes(write) -> set[int]:
    """Run an unordered bulk insert; the indexes it refused as duplicates (other errors
    raise)."""
    try:
        write()
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()


def is_ferretdb(db) -> bool:
    return "ferretdbVersion" in db.client.admin.command("buildInfo")


def create_indexes(db, documents) -> None:
    """The documents' indexes, and the version claims' and outbox pointers' by age.

    On FerretDB v1 (SQLite) only the unique ones: it answers every query but one by `_id` by
    reading the collection, so a secondary index is never read, while each costs a parse of
    the whole document on every insert (a quarter of an enrollment's insert cost). A unique
    index still enforces its rule there.
    """
    secondary = not is_ferretdb(db)
    for document in documents:
        # Made here, once: not again by mongoengine on the class's first query.
        document._meta["auto_create_index"] = False
        for spec in document._meta.get("index_specs") or []:
            if secondary or spec.get("unique"):
                options = {k: v for k, v in spec.items() if k != "fields"}
                db[document._get_collection_name()].create_index(spec["fields"], **options)
    if secondary:
        db["_version_claims"].create_index("at")
        db[OUTBOX_POINTERS].create_index("since")


class MongoStore(DependencyProvider):
    """Connects to the service's own database under the service's alias.

    Documents of a service declare ``meta = {"db_alias": "<service name>"}``; the provider
    connects that alias in setup, creates indexes on start, hands each worker a repository and
    disconnects on stop.
    """

    def __init__(self, repository_cls=Repository, documents=()):
        self.repository_cls = repository_cls
        self.documents = tuple(documents)

    @property
    def alias(self) -> str:
        return self.container.service_name

    @property
    def inbox(self) -> Inbox:
        # A property, not set in setup: other extensions' setup may run before ours.
        return Inbox(self.alias)

    def setup(self):
        config = self.container.config
        mongoengine.connect(
            alias=self.alias,
            host=config["MONGODB_URI"],
            db=config["MONGODB_DATABASE"],
            uuidRepresentation="standard",
            tz_aware=True,
            serverSelectionTimeoutMS=int(config.get("MONGODB_TIMEOUT_MS", 10000)),
        )

    def start(self):
        create_indexes(get_db(self.alias), self.documents)

    def stop(self):
        mongoengine.disconnect(alias=self.alias)

    kill = stop

    def repository(self) -> Repository:
        return self.repository_cls(self.alias)

    def get_dependency(self, worker_ctx):
        return self.repository()


def find_store(container) -> MongoStore:
    for dependency in container.dependencies:
        if isinstance(dependency, MongoStore):
            return dependency
    raise LookupError(f"service {container.service_name} has no MongoStore dependency")
