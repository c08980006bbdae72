"""Helpers for tests of SCORE services (the pattern of nameko.testing): a probe document and
ways to read the broker's queues, shared by the test suites of every package."""
from __future__ import annotations

import time

import mongoengine as me
from kombu import Connection

from score_common.store import VersionedDocument

PROBE_ALIAS = "probe"


class ProbeDocument(VersionedDocument):
    """A document in the 'probe' service's database, for tests of the store and the outbox."""

    meta = {"db_alias": PROBE_ALIAS, "collection": "probes", "indexes": []}

    id = me.StringField(primary_key=True)
    counter = me.IntField(default=0)
    seen = me.ListField(me.StringField())


def drain_queue(amqp_uri: str, queue_name: str, timeout: float = 0.5) -> list:
    """Take every message now in a queue (acking them); returns kombu messages."""
    taken = []
    with Connection(amqp_uri) as connection:
        queue = connection.SimpleQueue(queue_name, no_ack=False)
        try:
            while True:
                try:
                    message = queue.get(block=True, timeout=timeout)
                except queue.Empty:
                    break
                message.ack()
                taken.append(message)
        finally:
            queue.close()
    return taken


def queue_depth(amqp_uri: str, queue_name: str) -> int:
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue_name, passive=True).message_count
        finally:
            channel.close()


def wait_until(predicate, timeout: float = 20, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def handled(config: dict, handler: str, event_id: str) -> bool:
    """Whether a service's handler ("<service>.<method>") has finished an event, as its
    inbox records it: the way to know an event that changes nothing has been seen."""
    import pymongo

    key = f"{config['SCORE_NAMESPACE']}.{handler}:{event_id}"
    with pymongo.MongoClient(config["MONGODB_URI"]) as client:
        claim = client[config["MONGODB_DATABASE"]]["_inbox"].find_one({"_id": key})
    return bool(claim) and claim["status"] == "done"
