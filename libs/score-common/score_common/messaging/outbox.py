"""The transactional outbox: events are stored with the state change, then relayed.

A handler records an event on the document it changes (`outbox.record`), saves the document
(one write: the change and the event together), then asks for it to be published
(`outbox.publish`). The repository writes a pointer per event just before the save; the
relay publishes the events the worker recorded and deletes their pointers. If the process dies
between the save and the publish, the sweeper finds the pointers and publishes those events
from the documents. An event may therefore be published twice (a crash after the broker's
confirm, before the pointer is deleted); consumers' inboxes make that harmless.

Publishing touches only the pointers, never the document: the next save of the document drops
the events whose pointers are gone (see Repository.save).
"""
from __future__ import annotations

import logging
from datetime import timedelta

import eventlet
from mongoengine.connection import get_db
from nameko.extensions import DependencyProvider

from score_common.contracts import registry
from score_common.messaging.consumer import TopologyDeclarer
from score_common.store import (
    OUTBOX_POINTERS, VersionedDocument, as_utc, find_store, stored_envelope, utcnow,
)

log = logging.getLogger(__name__)

# Leave a freshly saved document to the worker that saved it for this long before sweeping.
SWEEP_GRACE = timedelta(seconds=1)
# A pointer whose event is not in its document is dropped after this long.
POINTER_LEASE = timedelta(seconds=60)
SWEEP_BATCH = 500


class OutboxHandle:
    """What a worker gets: record events on a document, publish a saved document's events."""

    def __init__(self, provider: "Outbox", context_data: dict):
        self._provider = provider
        self._context = context_data

    def envelope(self, event_type: str, payload: dict, *, event_id: str | None = None,
                 correlation_id: str | None = None) -> dict:
        """An event of this worker's, built and checked against its contract."""
        return registry.build(
            event_type, payload,
            producer=self._provider.producer,
            correlation_id=correlation_id or self._context.get("correlation_id"),
            causation_id=self._context.get("causation_id"),
            event_id=event_id,
        )

    def record(self, doc: VersionedDocument, event_type: str, payload: dict, *,
               event_id: str | None = None, correlation_id: str | None = None) -> dict:
        envelope = self.envelope(event_type, payload, event_id=event_id,
                                 correlation_id=correlation_id)
        doc.add_to_outbox(envelope)
        return envelope

    def announce(self, doc: VersionedDocument, event_type: str, payload: dict) -> bool:
        """Record `event_type` only if `payload` differs from what the document last
        announced (kept in its `announced` field): a repeated command tells nobody twice.
        Returns False when there was nothing new to tell."""
        if doc.announced == payload:
            return False
        doc.announced = payload
        self.record(doc, event_type, payload)
        return True

    def publish(self, *docs: VersionedDocument) -> int:
        """Publish the events recorded on these (saved) documents; returns how many went."""
        return self._provider.relay(docs)

    def publish_envelopes(self, envelopes: list[dict]) -> int:
        """Publish events written in rows' outboxes (Repository.insert_rows)."""
        return len(self._provider._publish(envelopes)) if envelopes else 0


class Outbox(DependencyProvider):
    declarer = TopologyDeclarer()

    def __init__(self, *documents: type[VersionedDocument]):
        self.documents = documents
        self._sweeper = None
        self._running = False

    def setup(self):
        self.producer = self.container.service_name
        self.sweep_interval = float(self.container.config.get("SCORE_OUTBOX_SWEEP_SECONDS", 2))

    def start(self):
        self.store = find_store(self.container)
        self.publisher = self.declarer.ensure().publisher
        self._running = True
        self._sweeper = self.container.spawn_managed_thread(self._sweep_forever,
                                                            identifier="outbox.sweeper")

    def stop(self):
        self._running = False
        if self._sweeper is not None:
            self._sweeper.kill()
            self._sweeper = None

    kill = stop

    def get_dependency(self, worker_ctx):
        return OutboxHandle(self, worker_ctx.data)

    def relay(self, docs) -> int:
        """Publish the events these just-written documents recorded, pipelined, and delete
        their pointers. What the broker does not take stays pointed at, for the sweeper."""
        envelopes = [envelope for doc in docs for envelope in doc.unpublished_events]
        if not envelopes:
            return 0
        published = self._publish(envelopes)
        for doc in docs:
            doc.mark_published(published)
        return len(published)

    def _publish(self, envelopes: list[dict]) -> list[str]:
        failures = self.publisher.publish_many(
            [self.publisher.event_message(envelope) for envelope in envelopes])
        for index, why in failures.items():
            log.warning("outbox: publishing %s %s failed (%s); left for the sweeper",
                        envelopes[index]["event_type"], envelopes[index]["event_id"], why)
        published = [envelope["event_id"] for index, envelope in enumerate(envelopes)
                     if index not in failures]
        self._forget(published)
        return published

    def _forget(self, pointer_ids: list[str]) -> None:
        pointers = get_db(self.store.alias)[OUTBOX_POINTERS]
        for start in range(0, len(pointer_ids), SWEEP_BATCH):
            pointers.delete_many({"_id": {"$in": pointer_ids[start:start + SWEEP_BATCH]}})

    def sweep(self) -> int:
        """Publish what crashed or failed workers left behind, found through the pointers."""
        now = utcnow()
        classes = {doc_cls._get_collection_name(): doc_cls for doc_cls in self.documents}
        due = list(get_db(self.store.alias)[OUTBOX_POINTERS].find(
            {"since": {"$lt": now - SWEEP_GRACE}}).limit(SWEEP_BATCH))
        by_collection: dict[str, list[dict]] = {}
        for pointer in due:
            by_collection.setdefault(pointer["collection"], []).append(pointer)
        pending, stale = [], []
        for collection, pointers in by_collection.items():
            doc_cls = classes.get(collection)
            if doc_cls is None:
                continue
            docs = {doc.pk: doc for doc in doc_cls.objects(
                pk__in=list({pointer["doc_id"] for pointer in pointers}))}
            for pointer in pointers:
                doc = docs.get(pointer["doc_id"])
                envelope = next((stored_envelope(e) for e in (doc.outbox if doc else ())
                                 if e["event_id"] == pointer["_id"]), None)
                if envelope is not None:
                    pending.append(envelope)
                elif now - as_utc(pointer["since"]) > POINTER_LEASE:
                    # Its write never landed (or landed elsewhere): nothing to publish. A slow
                    # writer gets the lease to land it first.
                    stale.append(pointer["_id"])
        self._forget(stale)
        return len(self._publish(pending)) if pending else 0

    def _sweep_forever(self):
        cleaned_at = utcnow()
        while self._running:
            try:
                sent = self.sweep()
                if sent:
                    log.info("outbox: sweeper published %d event(s)", sent)
                if utcnow() - cleaned_at > timedelta(minutes=10):
                    self.store.repository().forget_old_claims()
                    cleaned_at = utcnow()
            except Exception:  # noqa: BLE001 - a sweep must never end the loop
                log.exception("outbox: sweep failed")
            eventlet.sleep(self.sweep_interval)
