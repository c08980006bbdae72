"""The transactional outbox: events are stored with the state change, then relayed.

A handler records an event on the document it changes (`outbox.record`), saves the document
(one write: the change and the event together), then asks for it to be published
(`outbox.publish`). The repository writes a pointer per event just before the save, and the
publish removes it; if the process dies between the save and the publish, the sweeper finds
the pointer and publishes the document's pending outbox. An event may therefore be published
twice (crash after the broker's confirm, before the prune); consumers' inboxes make that harmless.
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
    OUTBOX_POINTERS, ConcurrencyConflict, VersionedDocument, as_utc, find_store, utcnow,
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

    def record(self, doc: VersionedDocument, event_type: str, payload: dict, *,
               event_id: str | None = None, correlation_id: str | None = None) -> dict:
        envelope = registry.build(
            event_type, payload,
            producer=self._provider.producer,
            correlation_id=correlation_id or self._context.get("correlation_id"),
            causation_id=self._context.get("causation_id"),
            event_id=event_id,
        )
        doc.add_to_outbox(envelope)
        return envelope

    def publish(self, doc: VersionedDocument) -> int:
        return self._provider.relay(type(doc), doc.pk)


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

    def relay(self, doc_cls, pk) -> int:
        """Publish a document's pending events, then prune them. Returns how many were sent."""
        return len(self._relay(doc_cls, pk)[0])

    def _relay(self, doc_cls, pk) -> tuple[list[str], set[str]]:
        """(ids published now, ids pending in the document when read)."""
        doc = doc_cls.objects(pk=pk).first()
        if doc is None or not doc.outbox:
            return [], set()
        pending = {envelope["event_id"] for envelope in doc.outbox}
        published = []
        try:
            for envelope in doc.outbox:
                self.publisher.publish_event(envelope)
                published.append(envelope["event_id"])
        except Exception:  # noqa: BLE001 - the sweeper will try again
            log.exception("outbox: publishing %s %s failed; left for the sweeper",
                          doc_cls.__name__, pk)
        if published:
            repository = self.store.repository()
            try:
                repository.update(doc_cls, pk, lambda d: d.prune_outbox(published))
            except ConcurrencyConflict:
                log.warning("outbox: could not prune %s %s; it may be published again",
                            doc_cls.__name__, pk)
                return published, pending
            pointers = self._pointers()
            for event_id in published:
                pointers.delete_one({"_id": event_id})
        return published, pending

    def _pointers(self):
        return get_db(self.store.alias)[OUTBOX_POINTERS]

    def sweep(self) -> int:
        """Publish what crashed or failed workers left behind, found through the pointers."""
        sent = 0
        now = utcnow()
        classes = {doc_cls._get_collection_name(): doc_cls for doc_cls in self.documents}
        pointers = self._pointers()
        due = pointers.find({"since": {"$lt": now - SWEEP_GRACE}}).limit(SWEEP_BATCH)
        by_document: dict[tuple[str, str], list[dict]] = {}
        for pointer in due:
            by_document.setdefault((pointer["collection"], pointer["doc_id"]), []).append(pointer)
        for (collection, doc_id), its_pointers in by_document.items():
            doc_cls = classes.get(collection)
            if doc_cls is None:
                continue
            published, pending = self._relay(doc_cls, doc_id)
            sent += len(published)
            for pointer in its_pointers:
                # Not in the document: published and pruned already, or its write never
                # landed. Wait out a slow writer before forgetting it.
                expired = now - as_utc(pointer["since"]) > POINTER_LEASE
                if pointer["_id"] not in pending and expired:
                    pointers.delete_one({"_id": pointer["_id"]})
        return sent

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
