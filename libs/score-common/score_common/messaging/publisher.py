"""Publishing that cannot lose a message silently: publisher confirms and mandatory routing.

Messages go out in pipelined batches: every message of a batch is written, then the broker's
confirms are collected together. A batch of 200 costs about one round trip instead of 200,
which is what lets intake answer hundreds of partner submissions a second. A message counts as
published only when the broker has confirmed it and has not returned it as unroutable
(mandatory); anything else is reported back per message, never dropped quietly.
"""
from __future__ import annotations

import logging
import queue
import socket
import time
from dataclasses import dataclass, field

import amqp
from kombu import Connection
from kombu.utils.json import dumps as json_dumps

from score_common.envelope import routing_key
from score_common.messaging.topology import Topology

log = logging.getLogger(__name__)

__all__ = ["AmqpPublisher", "Outgoing", "UndeliverableMessage", "PublishFailed"]

CONFIRM_TIMEOUT = 30.0
POOL_SIZE = 8
PASSED_PROPERTIES = ("message_id", "correlation_id", "type", "reply_to", "timestamp", "app_id",
                     "user_id", "content_encoding", "expiration")


class PublishFailed(Exception):
    """The broker did not take a message: nacked, unroutable, or the connection failed."""


class UndeliverableMessage(PublishFailed):
    """Returned by the broker: no queue is bound for the message (mandatory routing)."""


@dataclass
class Outgoing:
    body: bytes
    exchange: str
    routing_key: str
    content_type: str = "application/json"
    properties: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)

    def as_amqp(self) -> amqp.Message:
        properties = {k: v for k, v in self.properties.items()
                      if k in PASSED_PROPERTIES and v is not None}
        return amqp.Message(self.body, content_type=self.content_type, delivery_mode=2,
                            application_headers=self.headers, **properties)


class _ConfirmingChannel:
    """One connection whose channel is in confirm mode; confirms are counted, not awaited one
    by one."""

    def __init__(self, amqp_uri: str):
        self.connection = Connection(amqp_uri, heartbeat=0)
        self.connection.ensure_connection(max_retries=3)
        self.channel = self.connection.channel()
        self.channel.confirm_select()
        self.next_tag = 1
        self.outstanding: dict[int, int] = {}   # delivery tag -> index in the batch
        self.failures: dict[int, PublishFailed] = {}
        self.returned_ids: dict[str, str] = {}  # message id -> why the broker returned it
        self.channel.events["basic_ack"].add(self._acked)
        self.channel.events["basic_nack"].add(self._nacked)
        self.channel.events["basic_return"].add(self._returned)

    def _settle(self, tag: int, multiple: bool):
        tags = [t for t in self.outstanding if t <= tag] if multiple else [tag]
        return [self.outstanding.pop(t) for t in tags if t in self.outstanding]

    def _acked(self, tag, multiple):
        self._settle(tag, multiple)

    def _nacked(self, tag, multiple):
        for index in self._settle(tag, multiple):
            self.failures[index] = PublishFailed("the broker refused the message (nack)")

    def _returned(self, exc, exchange, routing_key, message):
        message_id = message.properties.get("message_id")
        self.returned_ids[message_id] = (f"no queue takes {exchange or 'the default exchange'}/"
                                         f"{routing_key}: {exc}")

    def publish(self, messages: list[Outgoing], timeout: float) -> dict[int, PublishFailed]:
        self.failures, self.returned_ids = {}, {}
        ids = {}
        for index, message in enumerate(messages):
            self.outstanding[self.next_tag] = index
            self.next_tag += 1
            ids[index] = message.properties.get("message_id")
            self.channel.basic_publish(message.as_amqp(), exchange=message.exchange,
                                       routing_key=message.routing_key, mandatory=True)
        deadline = time.monotonic() + timeout
        while self.outstanding:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"{len(self.outstanding)} message(s) unconfirmed after "
                                    f"{timeout:g} s")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        failures = dict(self.failures)
        # The broker returns an unroutable message before confirming it, so by now every
        # return has arrived. Returns carry no delivery tag: they are matched by message id.
        for index, message_id in ids.items():
            if message_id in self.returned_ids:
                failures[index] = UndeliverableMessage(self.returned_ids[message_id])
        return failures

    def close(self):
        try:
            self.connection.release()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


class AmqpPublisher:
    def __init__(self, amqp_uri: str, topology: Topology, pool_size: int = POOL_SIZE):
        self.amqp_uri = amqp_uri
        self.topology = topology
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = queue.Queue()
        for _ in range(pool_size):
            self._slots.put(None)

    # -- messages ------------------------------------------------------------------------------
    def event_message(self, envelope: dict) -> Outgoing:
        return Outgoing(
            body=json_dumps(envelope).encode(),
            exchange=self.topology.events_exchange.name,
            routing_key=routing_key(envelope["producer"], envelope["event_type"]),
            properties={"message_id": envelope["event_id"],
                        "correlation_id": envelope["correlation_id"],
                        "type": envelope["event_type"]},
            headers={"x-score-event-version": envelope["version"]},
        )

    # -- publishing ----------------------------------------------------------------------------
    def publish_many(self, messages: list[Outgoing],
                     timeout: float = CONFIRM_TIMEOUT) -> dict[int, PublishFailed]:
        """Publish every message, pipelined; returns {index: why} for those the broker did not
        take (empty when all were confirmed). A connection that fails is replaced and the
        batch sent once more: a message may arrive twice, never not at all unreported."""
        if not messages:
            return {}
        self._slots.get()
        try:
            for attempt in (1, 2):
                channel = None
                try:
                    channel = self._idle.get_nowait() if not self._idle.empty() else \
                        _ConfirmingChannel(self.amqp_uri)
                    failures = channel.publish(messages, timeout)
                    self._idle.put(channel)
                    return failures
                except (OSError, amqp.exceptions.AMQPError, PublishFailed) as exc:
                    if channel is not None:
                        channel.close()
                    if attempt == 2:
                        return {index: PublishFailed(f"{type(exc).__name__}: {exc}")
                                for index in range(len(messages))}
                    log.warning("publisher: connection failed (%s); sending the batch again",
                                exc)
        finally:
            self._slots.put(None)

    def publish(self, message: Outgoing) -> None:
        failures = self.publish_many([message])
        if failures:
            raise failures[0]

    def publish_event(self, envelope: dict) -> None:
        """Publish one envelope; returns once the broker has confirmed it."""
        self.publish(self.event_message(envelope))

    def publish_raw(self, body: bytes, *, exchange: str, routing_key: str,
                    properties: dict, headers: dict) -> None:
        """Republish a received message byte for byte (retries, dead letters, replays)."""
        self.publish(Outgoing(
            body=body, exchange=exchange, routing_key=routing_key, headers=headers,
            content_type=properties.get("content_type") or "application/octet-stream",
            properties={**properties,
                        "content_encoding": properties.get("content_encoding") or "binary"}))

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()
