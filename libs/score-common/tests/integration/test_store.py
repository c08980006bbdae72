"""The store on the real MongoDB wire server, under many concurrent green-thread workers."""
import uuid

import eventlet
import mongoengine
import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.store import (
    OUTBOX_POINTERS, AlreadyExists, ConcurrencyConflict, Inbox, MongoStore, Repository,
    create_indexes, is_ferretdb,
)
from score_common.testing import PROBE_ALIAS, ProbeDocument


@pytest.fixture
def probe_db(make_config):
    config = make_config("probe")
    mongoengine.connect(alias=PROBE_ALIAS, host=config["MONGODB_URI"],
                        db=config["MONGODB_DATABASE"], uuidRepresentation="standard",
                        tz_aware=True)
    ProbeDocument.ensure_indexes()
    yield Repository(PROBE_ALIAS)
    mongoengine.disconnect(alias=PROBE_ALIAS)


def test_concurrent_versioned_updates_lose_nothing(probe_db):
    probe_db.insert(ProbeDocument(id="counter"))

    def bump():
        for _ in range(5):
            probe_db.update(ProbeDocument, "counter",
                            lambda doc: setattr(doc, "counter", doc.counter + 1))

    pool = eventlet.GreenPool(40)
    for _ in range(40):
        pool.spawn(bump)
    pool.waitall()

    doc = ProbeDocument.objects.get(pk="counter")
    assert doc.counter == 200
    assert doc.version == 201


def test_a_stale_copy_cannot_overwrite_a_newer_version(probe_db):
    probe_db.insert(ProbeDocument(id="doc", counter=1))
    first = ProbeDocument.objects.get(pk="doc")
    second = ProbeDocument.objects.get(pk="doc")
    first.counter = 2
    probe_db.save(first)
    second.counter = 99
    with pytest.raises(ConcurrencyConflict):
        probe_db.save(second)
    assert ProbeDocument.objects.get(pk="doc").counter == 2


def test_insert_of_an_existing_id_is_refused(probe_db):
    probe_db.insert(ProbeDocument(id="once"))
    with pytest.raises(AlreadyExists):
        probe_db.insert(ProbeDocument(id="once"))


def test_only_one_of_many_concurrent_inbox_claims_wins(probe_db):
    inbox = Inbox(PROBE_ALIAS)
    event_id = str(uuid.uuid4())
    pool = eventlet.GreenPool(30)
    results = list(pool.imap(lambda _: inbox.claim("consumer-a", event_id)[0], range(30)))
    assert results.count(Inbox.NEW) == 1
    assert results.count(Inbox.BUSY) == 29


def test_inbox_remembers_completion_and_frees_a_released_claim(probe_db):
    inbox = Inbox(PROBE_ALIAS)
    status, token = inbox.claim("consumer-a", "event-1")
    inbox.release("consumer-a", "event-1", token)
    status, token = inbox.claim("consumer-a", "event-1")
    assert status == Inbox.NEW
    inbox.complete("consumer-a", "event-1", token)
    assert inbox.claim("consumer-a", "event-1") == (Inbox.DONE, None)
    # the same event is new to another consumer
    assert inbox.claim("consumer-b", "event-1")[0] == Inbox.NEW


class CounterService:
    name = "probe"
    store = MongoStore(documents=[ProbeDocument])

    @rpc
    def add(self, key):
        self.store.insert(ProbeDocument(id=key))
        self.store.update(ProbeDocument, "total",
                          lambda doc: setattr(doc, "counter", doc.counter + 1))
        return ProbeDocument.objects(pk=key).count()


def test_store_provider_serves_many_concurrent_workers(container_factory, make_config):
    config = make_config("probe", SCORE_MAX_WORKERS=50)
    container = container_factory(CounterService, config)
    container.start()
    repository = Repository(PROBE_ALIAS)
    repository.insert(ProbeDocument(id="total"))

    with ClusterRpcProxy(config) as cluster:
        calls = [cluster.probe.add.call_async(f"k{i}") for i in range(300)]
        results = [call.result() for call in calls]

    assert results == [1] * 300
    assert ProbeDocument.objects(pk__in=[f"k{i}" for i in range(300)]).count() == 300
    assert ProbeDocument.objects.get(pk="total").counter == 300


def test_a_bulk_insert_creates_the_new_and_names_the_taken(probe_db):
    probe_db.insert(ProbeDocument(id="b-2", counter=7))
    docs = [ProbeDocument(id=f"b-{i}", counter=i) for i in range(5)]
    for doc in docs:
        doc.add_to_outbox({"event_id": f"ev-{doc.pk}"})
    taken = probe_db.insert_many(docs)
    assert taken == {2}
    assert ProbeDocument.objects.get(pk="b-2").counter == 7  # the existing one is untouched
    assert sorted(d.pk for d in ProbeDocument.objects(pk__in=[f"b-{i}" for i in range(5)])) \
        == [f"b-{i}" for i in range(5)]
    pointers = ProbeDocument._get_db()[OUTBOX_POINTERS]
    # the refused document recorded nothing, so nothing points at it or waits to be relayed
    assert pointers.count_documents({"_id": "ev-b-2"}) == 0
    assert pointers.count_documents({"_id": {"$in": [f"ev-b-{i}" for i in (0, 1, 3, 4)]}}) == 4
    assert docs[2].unpublished_events == [] and docs[0].unpublished_events


def test_a_save_drops_published_events_and_keeps_pending_ones(probe_db):
    doc = ProbeDocument(id="pruned")
    doc.add_to_outbox({"event_id": "published-1"})
    doc.add_to_outbox({"event_id": "pending-1"})
    probe_db.insert(doc)
    pointers = ProbeDocument._get_db()[OUTBOX_POINTERS]
    pointers.delete_one({"_id": "published-1"})  # as the relay does once the broker confirms

    def change(loaded):
        loaded.counter = 1
        loaded.add_to_outbox({"event_id": "new-1"})

    saved = probe_db.update(ProbeDocument, "pruned", change)
    stored = ProbeDocument.objects.get(pk="pruned")
    assert [e["event_id"] for e in stored.outbox] == ["pending-1", "new-1"]
    assert [e["event_id"] for e in saved.unpublished_events] == ["new-1"]
    assert pointers.count_documents({"_id": {"$in": ["pending-1", "new-1"]}}) == 2


class IndexedProbe(mongoengine.Document):
    meta = {"db_alias": PROBE_ALIAS, "collection": "indexed_probes",
            "indexes": [{"fields": ["code"], "unique": True}, ("kind", "-at")]}

    id = mongoengine.StringField(primary_key=True)
    code = mongoengine.StringField()
    kind = mongoengine.StringField()
    at = mongoengine.IntField()


def test_indexes_are_made_where_they_are_read_and_unique_ones_everywhere(probe_db):
    db = probe_db.db
    create_indexes(db, [IndexedProbe])
    keys = {tuple(info["key"]) for info in db["indexed_probes"].index_information().values()}
    assert (("code", 1),) in keys
    # FerretDB v1 reads no secondary index (every query but one by _id reads the collection),
    # so there it would only slow every insert; a MongoDB server gets it.
    assert ((("kind", 1), ("at", -1)) in keys) is not is_ferretdb(db)
    IndexedProbe(id="a", code="same").save(force_insert=True)
    assert len(db["indexed_probes"].index_information()) == len(keys)  # none made on first use
    with pytest.raises(mongoengine.NotUniqueError):
        IndexedProbe(id="b", code="same").save(force_insert=True)
