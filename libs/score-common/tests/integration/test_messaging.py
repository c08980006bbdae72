"""The messaging core on the real broker and database: redelivery, poison messages, contract
errors and a process killed between its write and its publish."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest
from kombu import Connection
from prometheus_client import REGISTRY

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_common.messaging import topology as topology_module
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.messaging.publisher import Outgoing, UndeliverableMessage
from score_common.messaging.topology import Subscription, Topology
from score_common.store import OUTBOX_POINTERS, MongoStore
from score_common.testing import ProbeDocument, drain_queue, queue_depth, wait_until

PROBE_QUEUE_SUFFIX = "probe.handle_enrollment_accepted"


class ProbeService:
    """Records one effect document per handling: only the inbox stands between a redelivery
    and a second effect."""

    name = "probe"
    store = MongoStore(documents=[ProbeDocument])
    outbox = Outbox(ProbeDocument)

    @event_handler
    def handle_enrollment_accepted(self, event):
        if event.payload["enrollment_id"].startswith("poison"):
            raise RuntimeError(f"cannot handle {event.payload['enrollment_id']}")
        self.store.insert(ProbeDocument(id=uuid.uuid4().hex, seen=[event.event_id]))


@pytest.fixture(autouse=True)
def probe_subscription(monkeypatch):
    monkeypatch.setattr(topology_module, "SUBSCRIPTIONS", topology_module.SUBSCRIPTIONS + (
        Subscription("probe", "handle_enrollment_accepted", ("enrollment.enrollment_accepted",)),
    ))


def accepted(enrollment_id: str) -> dict:
    return registry.build("enrollment_accepted",
                          {**SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": enrollment_id},
                          producer="enrollment")


def effects(event_id: str) -> int:
    return ProbeDocument.objects(seen=event_id).count()


@pytest.fixture
def probe(container_factory, make_config):
    def start(**overrides):
        config = make_config("probe", **overrides)
        container = container_factory(ProbeService, config)
        container.start()
        return config, Topology.from_config(config)

    return start


def test_a_redelivered_event_has_no_second_effect(probe, publisher):
    config, _ = probe()
    envelope = accepted("enr-redelivered")
    publisher.publish_event(envelope)
    publisher.publish_event(envelope)  # the same event id again, as a redelivery brings it
    other = accepted("enr-other")
    publisher.publish_event(other)

    wait_until(lambda: effects(other["event_id"]) == 1, what="the later event handled")
    assert effects(envelope["event_id"]) == 1


def test_a_poison_message_is_dead_lettered_after_its_retries_while_others_flow(
        probe, publisher):
    config, topology = probe(SCORE_RETRY_DELAYS="1.5,1.5")
    queue = f"{config['SCORE_NAMESPACE']}.{PROBE_QUEUE_SUFFIX}"
    poison = accepted("poison-1")
    publisher.publish_event(poison)
    good = [accepted(f"enr-{i}") for i in range(10)]
    for envelope in good:
        publisher.publish_event(envelope)

    wait_until(lambda: all(effects(e["event_id"]) == 1 for e in good), what="the good events")
    assert queue_depth(config["AMQP_URI"], topology.dead_queue_name(queue)) == 0, \
        "the good events should not have waited for the poison message's retries"

    wait_until(lambda: queue_depth(config["AMQP_URI"], topology.dead_queue_name(queue)) == 1,
               what="the poison message in the dead-letter queue")
    [dead] = drain_queue(config["AMQP_URI"], topology.dead_queue_name(queue))
    assert json.loads(dead.body)["event_id"] == poison["event_id"]  # the original, unchanged
    assert dead.headers["x-score-attempts"] == 3  # the first try and two retries
    assert "cannot handle poison-1" in dead.headers["x-score-error"]
    assert dead.headers["x-score-error-type"] == "RuntimeError"
    assert dead.headers["x-score-original-queue"] == queue
    assert "Traceback" in dead.headers["x-score-traceback"]
    assert effects(poison["event_id"]) == 0
    # counted for Prometheus: two retries, one dead letter
    labels = {"service": "probe", "queue": queue}
    assert REGISTRY.get_sample_value("score_message_retries_total", labels) == 2
    assert REGISTRY.get_sample_value("score_dead_letters_total", labels) == 1


@pytest.mark.parametrize("mangle, error_type", [
    (lambda env: {**env, "version": 99}, "UnsupportedEventVersion"),
    (lambda env: {**env, "payload": {**env["payload"], "module": 9}}, "ContractViolation"),
    (lambda env: {k: v for k, v in env.items() if k != "occurred_at"}, "ContractViolation"),
])
def test_a_message_against_its_contract_is_dead_lettered_at_once_with_the_reason(
        probe, mangle, error_type):
    config, topology = probe(SCORE_RETRY_DELAYS="30")
    queue = f"{config['SCORE_NAMESPACE']}.{PROBE_QUEUE_SUFFIX}"
    body = json.dumps(mangle(accepted("enr-bad")))
    with Connection(config["AMQP_URI"]) as connection:
        connection.Producer().publish(
            body, exchange=topology.events_exchange, routing_key="enrollment.enrollment_accepted",
            content_type="application/json", content_encoding="utf-8")

    wait_until(lambda: queue_depth(config["AMQP_URI"], topology.dead_queue_name(queue)) == 1,
               what="the bad message in the dead-letter queue")
    [dead] = drain_queue(config["AMQP_URI"], topology.dead_queue_name(queue))
    assert dead.headers["x-score-error-type"] == error_type
    assert dead.headers["x-score-attempts"] == 1  # no retry can fix a broken contract
    assert dead.headers["x-score-permanent"] is True
    if error_type == "ContractViolation" and "module" in body and '"module": 9' in body:
        assert "module" in dead.headers["x-score-error"]


CRASHING_WRITER = textwrap.dedent("""
    import os, signal, sys
    import mongoengine
    from score_common.contracts import registry
    from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
    from score_common.messaging.publisher import AmqpPublisher
    from score_common.messaging.topology import Topology
    from score_common.store import Repository
    from score_common.testing import PROBE_ALIAS, ProbeDocument

    mongoengine.connect(alias=PROBE_ALIAS, host=os.environ["MONGODB_URI"],
                        db=os.environ["MONGODB_DATABASE"], tz_aware=True)
    doc = ProbeDocument(id=os.environ["DOC_ID"])
    envelope = registry.build(
        "enrollment_accepted", {**SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": "enr-crash"},
        producer="enrollment", event_id=os.environ["EVENT_ID"])
    doc.add_to_outbox(envelope)
    Repository(PROBE_ALIAS).insert(doc)
    if os.environ["CRASH"] == "after-publish":
        topology = Topology(os.environ["SCORE_NAMESPACE"])
        AmqpPublisher(os.environ["AMQP_URI"], topology).publish_event(envelope)
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a power cut would
""")


@pytest.mark.parametrize("crash", ["before-publish", "after-publish"])
def test_a_process_killed_around_its_publish_still_delivers_once_in_effect(
        probe, make_config, publisher, crash):
    config = make_config("probe")
    event_id, doc_id = str(uuid.uuid4()), f"crash-{crash}"
    writer = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER],
        env={**os.environ, "MONGODB_URI": config["MONGODB_URI"],
             "MONGODB_DATABASE": config["MONGODB_DATABASE"], "AMQP_URI": config["AMQP_URI"],
             "SCORE_NAMESPACE": config["SCORE_NAMESPACE"], "DOC_ID": doc_id,
             "EVENT_ID": event_id, "CRASH": crash},
        capture_output=True, text=True, timeout=60)
    assert writer.returncode == -signal.SIGKILL, writer.stderr

    probe()  # the service comes back: its sweeper finds the pending outbox

    wait_until(lambda: effects(event_id) == 1, what="the crashed writer's event handled")
    pointers = ProbeDocument._get_db()[OUTBOX_POINTERS]
    wait_until(lambda: pointers.count_documents({"_id": event_id}) == 0,
               what="the sweeper's pointer removed")
    # a second publish (after-publish case) reached the consumer too, and changed nothing
    assert effects(event_id) == 1


def test_a_pipelined_batch_is_confirmed_and_an_unroutable_message_is_named(
        publisher, make_config):
    config = make_config("probe")
    queue = f"{config['SCORE_NAMESPACE']}.probe.batch"
    with Connection(config["AMQP_URI"]) as connection:
        connection.default_channel.queue_declare(queue, durable=True, auto_delete=False)
    messages = [Outgoing(body=json.dumps({"n": i}).encode(), exchange="", routing_key=queue,
                         properties={"message_id": f"m-{i}"}) for i in range(300)]
    messages.insert(150, Outgoing(body=b"{}", exchange="", routing_key=f"{queue}.nowhere",
                                  properties={"message_id": "lost"}))
    failures = publisher.publish_many(messages)
    assert list(failures) == [150]
    assert isinstance(failures[150], UndeliverableMessage)
    assert f"{queue}.nowhere" in str(failures[150])
    received = drain_queue(config["AMQP_URI"], queue, timeout=2)
    assert sorted(json.loads(m.body)["n"] for m in received) == list(range(300))
    # the pooled connection is reused and still counts confirms right
    assert publisher.publish_many(messages[:3]) == {}
