"""One contract, many readers: every producer's sample is read by every consumer of it, and
the central topology agrees with the handlers the services really have."""
import inspect
from fnmatch import fnmatch

import pytest

from score_common.cli import service_class
from score_common.config import SERVICES
from score_common.contracts import registry
from score_common.envelope import routing_key
from score_common.messaging.consumer import EventHandler
from score_common.messaging.topology import SUBSCRIPTIONS, INBOUND_QUEUES

CONTRACTS = registry.contracts()


def topic_matches(pattern: str, key: str) -> bool:
    if pattern == "#":
        return True
    return fnmatch(key, pattern.replace("#", "*"))


def event_handlers(cls):
    handlers = set()
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventHandler):
                handlers.add(name)
    return handlers


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: f"{c.event_type}.v{c.version}")
def test_each_sample_survives_the_wire(contract):
    envelope = registry.build(contract.event_type, contract.sample, producer=contract.producer,
                              version=contract.version)
    event = registry.decode(envelope)
    assert registry.build(contract.event_type, event.payload, producer=contract.producer,
                          version=contract.version, event_id=event.event_id,
                          occurred_at=event.occurred_at, correlation_id=event.correlation_id
                          )["payload"] == envelope["payload"]


@pytest.mark.parametrize("subscription", SUBSCRIPTIONS,
                         ids=lambda s: f"{s.service}.{s.handler}")
def test_every_subscription_receives_some_real_event(subscription):
    keys = [routing_key(c.producer, c.event_type) for c in CONTRACTS]
    for pattern in subscription.routing_keys:
        assert any(topic_matches(pattern, key) for key in keys), f"nothing emits {pattern}"


@pytest.mark.parametrize("subscription", SUBSCRIPTIONS,
                         ids=lambda s: f"{s.service}.{s.handler}")
def test_every_consumer_reads_every_producers_sample(subscription):
    readers = [c for c in CONTRACTS
               if any(topic_matches(p, routing_key(c.producer, c.event_type))
                      for p in subscription.routing_keys)]
    assert readers
    for contract in readers:
        envelope = registry.build(contract.event_type, contract.sample,
                                  producer=contract.producer)
        assert registry.decode(envelope).payload  # the consumer's load of the producer's dump


def test_every_declared_subscription_has_its_handler_and_every_handler_is_declared():
    declared = {(s.service, s.handler) for s in SUBSCRIPTIONS}
    found = {(service, handler) for service in SERVICES
             for handler in event_handlers(service_class(service))}
    assert found == declared


def test_each_event_type_has_one_producer_and_a_consumer():
    consumed = {routing_key(c.producer, c.event_type) for c in CONTRACTS
                if any(topic_matches(p, routing_key(c.producer, c.event_type))
                       for s in SUBSCRIPTIONS for p in s.routing_keys)}
    assert consumed == {routing_key(c.producer, c.event_type) for c in CONTRACTS}
    assert all(c.producer in SERVICES for c in CONTRACTS)


def test_inbound_queues_belong_to_real_services():
    for inbound in INBOUND_QUEUES:
        assert inbound.service in SERVICES
