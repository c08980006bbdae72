"""Entrypoints that never ack-and-drop a failed message.

nameko's own consumers ack a message whose handler raised: it is lost. Here a failure is
republished (with publisher confirms) to a retry queue that returns it to its own queue after
a delay, and after the last delay to the consumer's dead-letter queue with the error, the
attempt count and its origin in the headers. Only then is the original acked. If even that
republish fails, the original is requeued: nothing is dropped.

A message that can never succeed (not JSON, unknown event type or version, payload against
its contract) goes to the dead-letter queue at once.

`event_handler` adds the inbox: a redelivered event (the broker's at-least-once, or the
outbox relay publishing again after a crash) is acked without a second effect.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial

import eventlet
import eventlet.queue
import eventlet.semaphore
from kombu import Connection, Consumer as KombuConsumer
from nameko.containers import WorkerContext
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint, SharedExtension
from nameko.messaging import HeaderDecoder, QueueConsumer

from score_common import metrics
from score_common.contracts import registry
from score_common.envelope import PermanentMessageError
from score_common.messaging.publisher import AmqpPublisher
from score_common.messaging.topology import Topology
from score_common.store import Inbox, find_store

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-score-attempts"
# RabbitMQ refuses a publish whose user_id is not the publisher's own, so a retried or
# dead-lettered message carries the original, broker-validated user id in this header. It is
# believed only on messages that came back through the default exchange (retry queues), where
# only the platform's own users may publish.
VALIDATED_USER_HEADER = "x-score-validated-user-id"
ORIGINAL_EXCHANGE_HEADER = "x-score-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-score-original-routing-key"
MAX_ERROR_TEXT = 2000
MAX_TRACEBACK_TEXT = 8000


class SkipMessage(Exception):
    """The message needs no handling (already handled); ack it."""


class TryAgainLater(Exception):
    """A transient condition outside the handler (e.g. another worker holds the event)."""


class RawQueueConsumer(QueueConsumer):
    """nameko's QueueConsumer, handing over undecoded messages.

    The stock one decodes bodies before the entrypoint sees them, and a body that does not
    decode raises inside the consumer loop. Entrypoints here decode for themselves, so a bad
    body becomes a dead letter with its reason.
    """

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = KombuConsumer(
                channel,
                queues=[provider.queue],
                on_message=partial(self.handle_message, provider, None),
                auto_declare=True,
            )
            # A batch consumer wants more in flight than a worker each. RabbitMQ applies a
            # per-consumer prefetch to the consumers started after it on the channel, so each
            # consumer starts right after its own qos.
            consumer.qos(prefetch_count=getattr(provider, "prefetch_count", None)
                         or self.prefetch_count)
            consumer.consume()
            self._consumers[provider] = consumer
        return self._consumers.values()


class TopologyDeclarer(SharedExtension):
    """Declares the whole topology once per container, before anything consumes or publishes.

    nameko sets extensions up concurrently and in no set order, so whoever needs the topology
    first declares it; the others wait on the lock.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._ready = False

    def setup(self):
        self.ensure()

    def ensure(self) -> "TopologyDeclarer":
        with self._lock:
            if not self._ready:
                config = self.container.config
                self.topology = Topology.from_config(config)
                self.publisher = AmqpPublisher(config["AMQP_URI"], self.topology)
                with Connection(config["AMQP_URI"]) as connection:
                    self.topology.declare(connection)
                self._ready = True
        return self

    def stop(self):
        # The publisher's pooled channels belong to this container: close them with it.
        with self._lock:
            if self._ready:
                self.publisher.close()

    kill = stop


@dataclass
class IncomingMessage:
    """What a raw queue handler receives: the body untouched and the AMQP properties."""

    body: bytes
    properties: dict
    headers: dict
    routing_key: str
    exchange: str
    attempts: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def user_id(self) -> str | None:
        return self.properties.get("user_id")

    @property
    def message_id(self) -> str | None:
        return self.properties.get("message_id")


def _describe(message) -> IncomingMessage:
    props = dict(message.properties)
    headers = dict(props.pop("application_headers", None) or message.headers or {})
    info = message.delivery_info or {}
    exchange, key = info.get("exchange", ""), info.get("routing_key", "")
    if exchange == "":
        # Back from a retry queue: only the platform publishes there, so the headers it wrote
        # are believed, and the message is seen as it first arrived.
        if not props.get("user_id") and headers.get(VALIDATED_USER_HEADER):
            props["user_id"] = headers[VALIDATED_USER_HEADER]
        if ORIGINAL_EXCHANGE_HEADER in headers:
            exchange = headers[ORIGINAL_EXCHANGE_HEADER]
            key = headers.get(ORIGINAL_ROUTING_KEY_HEADER, key)
    return IncomingMessage(
        body=message.body if isinstance(message.body, bytes) else message.body.encode(),
        properties={k: v for k, v in props.items() if k != "delivery_info"},
        headers=headers,
        routing_key=key,
        exchange=exchange,
        attempts=int(headers.get(ATTEMPTS_HEADER, 0) or 0),
    )


class ReliableConsumer(Entrypoint, HeaderDecoder):
    queue_consumer = RawQueueConsumer()
    declarer = TopologyDeclarer()

    def setup(self):
        declared = self.declarer.ensure()
        self.topology = declared.topology
        self.publisher = declared.publisher
        self.queue = self.make_queue()
        self.queue_consumer.register_provider(self)

    def stop(self):
        self.queue_consumer.unregister_provider(self)
        super().stop()

    # -- for subclasses ------------------------------------------------------------------------
    def make_queue(self):
        raise NotImplementedError

    def prepare(self, incoming: IncomingMessage) -> tuple[tuple, dict]:
        """Turn a message into (args, context data); may raise SkipMessage,
        PermanentMessageError or TryAgainLater."""
        return (incoming,), {}

    def on_success(self, incoming: IncomingMessage) -> None:
        pass

    def on_failure(self, incoming: IncomingMessage) -> None:
        pass

    # -- message flow --------------------------------------------------------------------------
    def handle_message(self, body, message):
        incoming = _describe(message)
        try:
            args, context_data = self.prepare(incoming)
        except SkipMessage:
            self.queue_consumer.ack_message(message)
            return
        except Exception as exc:  # noqa: BLE001 - every failure is routed, none dropped
            self.fail(message, incoming, exc, traceback.format_exc())
            return
        context_data = {**self.unpack_message_headers(message), **context_data}
        try:
            self.container.spawn_worker(
                self, args, {}, context_data=context_data,
                handle_result=partial(self.handle_result, message, incoming),
            )
        except ContainerBeingKilled:
            self.on_failure(incoming)
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, incoming, worker_ctx: WorkerContext, result=None,
                      exc_info=None):
        if exc_info is None:
            try:
                self.on_success(incoming)
            except Exception as exc:  # noqa: BLE001
                self.fail(message, incoming, exc, traceback.format_exc())
                return result, exc_info
            self.queue_consumer.ack_message(message)
        else:
            text = "".join(traceback.format_exception(*exc_info))
            self.on_failure(incoming)
            self.fail(message, incoming, exc_info[1], text)
        return result, exc_info

    def fail(self, message, incoming: IncomingMessage, exc: BaseException, trace: str):
        attempts = incoming.attempts + 1
        delays = self.topology.retry_delays
        permanent = isinstance(exc, PermanentMessageError)
        properties = dict(incoming.properties)
        carried = {}
        if properties.get("user_id"):
            carried[VALIDATED_USER_HEADER] = properties.pop("user_id")
        try:
            if not permanent and attempts <= len(delays):
                delay = delays[attempts - 1]
                log.warning("%s failed (attempt %d), retrying in %ss: %s", self.queue.name,
                            attempts, delay, exc)
                metrics.RETRIES.labels(self.container.service_name, self.queue.name).inc()
                self.publisher.publish_raw(
                    incoming.body, exchange="",
                    routing_key=self.topology.retry_queue_name(self.queue.name, delay),
                    properties=properties,
                    headers={**incoming.headers, **carried, ATTEMPTS_HEADER: attempts,
                             ORIGINAL_EXCHANGE_HEADER: incoming.exchange,
                             ORIGINAL_ROUTING_KEY_HEADER: incoming.routing_key,
                             "x-score-last-error": _clip(f"{type(exc).__name__}: {exc}",
                                                         MAX_ERROR_TEXT)},
                )
            else:
                log.error("%s dead-lettered after %d attempt(s): %s", self.queue.name, attempts,
                          exc)
                metrics.DEAD_LETTERS.labels(self.container.service_name, self.queue.name).inc()
                self.publisher.publish_raw(
                    incoming.body, exchange="",
                    routing_key=self.topology.dead_queue_name(self.queue.name),
                    properties=properties,
                    headers={
                        **incoming.headers,
                        **carried,
                        ATTEMPTS_HEADER: attempts,
                        "x-score-error": _clip(str(exc), MAX_ERROR_TEXT),
                        "x-score-error-type": type(exc).__name__,
                        "x-score-permanent": permanent,
                        "x-score-traceback": _clip(trace, MAX_TRACEBACK_TEXT),
                        "x-score-original-queue": self.queue.name,
                        ORIGINAL_EXCHANGE_HEADER: incoming.exchange,
                        ORIGINAL_ROUTING_KEY_HEADER: incoming.routing_key,
                        "x-score-dead-lettered-at": datetime.now(timezone.utc).isoformat(),
                    },
                )
        except Exception:  # noqa: BLE001 - could not park it elsewhere: keep it where it is
            log.exception("%s: could not republish a failed message; requeueing it",
                          self.queue.name)
            time.sleep(0.5)  # do not spin on a broker that is refusing publishes
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "... [truncated]"


class InboundConsumer(ReliableConsumer):
    """Consumes a declared inbound queue (partner submissions); the handler gets the raw message."""

    def __init__(self, key: str, **kwargs):
        self.key = key
        super().__init__(**kwargs)

    def make_queue(self):
        return self.topology.inbound_queue(
            self.topology.inbound(self.container.service_name, self.key))

    def prepare(self, incoming):
        # The partner's own ids start the correlation chain, so they can quote it to staff.
        correlation_id = (incoming.properties.get("correlation_id") or incoming.message_id)
        return (incoming,), ({"correlation_id": correlation_id} if correlation_id else {})


class EventHandler(ReliableConsumer):
    """Consumes the platform events this handler subscribes to in the central topology.

    The handler receives a validated `score_common.envelope.Event`. Its correlation id flows
    into the worker context, and into every event the handler records.
    """

    def make_queue(self):
        subscription = self.topology.subscription(self.container.service_name, self.method_name)
        return self.topology.subscription_queue(subscription)

    def setup(self):
        super().setup()
        self.inbox: Inbox = find_store(self.container).inbox

    def prepare(self, incoming):
        event = registry.decode(incoming.body)  # refuses non-JSON bodies too, with the reason
        status, token = self.inbox.claim(self.queue.name, event.event_id)
        if status == Inbox.DONE:
            log.info("%s: event %s already handled, skipped", self.queue.name, event.event_id)
            raise SkipMessage()
        if status == Inbox.BUSY:
            raise TryAgainLater(f"event {event.event_id} is being handled by another worker")
        incoming.extra.update(event_id=event.event_id, token=token)
        return (event,), {"correlation_id": event.correlation_id, "causation_id": event.event_id}

    def on_success(self, incoming):
        self.inbox.complete(self.queue.name, incoming.extra["event_id"], incoming.extra["token"])

    def on_failure(self, incoming):
        if "token" in incoming.extra:
            self.inbox.release(self.queue.name, incoming.extra["event_id"],
                               incoming.extra["token"])


class InboundBatchConsumer(InboundConsumer):
    """An inbound queue handled in batches, for a handler whose cost is mostly per round trip.

    The handler gets a list of messages and returns, in the same order, None for each message
    it handled (acked) or the exception that message failed with (retried or dead-lettered on
    its own, exactly as a single consumer would). If the handler raises, every message of the
    batch fails with that error.

    Group commit: at most `max_batches` batches are handled at once; messages that arrive
    meanwhile wait, and go together in the next batch (up to `batch_size`). A message that
    finds a free slot is handled at once, so a quiet queue adds no latency.
    """

    def __init__(self, key: str, batch_size: int = 100, max_batches: int = 2, **kwargs):
        self.batch_size = batch_size
        self.max_batches = max_batches
        super().__init__(key, **kwargs)

    @property
    def prefetch_count(self) -> int:
        return self.batch_size * (self.max_batches + 1)

    def setup(self):
        super().setup()
        self._arrived = eventlet.queue.LightQueue()
        self._slots = eventlet.semaphore.Semaphore(self.max_batches)
        self._batcher = None

    def start(self):
        super().start()
        self._batcher = self.container.spawn_managed_thread(
            self._batch_forever, identifier=f"{self.queue.name}.batcher")

    def _stop_batching(self):
        if self._batcher is not None:
            self._batcher.kill()
            self._batcher = None

    def stop(self):
        self._stop_batching()
        super().stop()

    def kill(self):
        self._stop_batching()
        super().kill()

    def handle_message(self, body, message):
        self._arrived.put(message)

    def _batch_forever(self):
        while True:
            batch = [self._arrived.get()]
            self._slots.acquire()
            while len(batch) < self.batch_size and self._arrived.qsize():
                batch.append(self._arrived.get_nowait())
            self._dispatch(batch)

    def _dispatch(self, messages: list) -> None:
        incoming = [_describe(message) for message in messages]
        try:
            self.container.spawn_worker(
                self, (incoming,), {}, context_data={},
                handle_result=partial(self._handle_batch_result, messages, incoming))
        except ContainerBeingKilled:
            self._slots.release()
            for message in messages:
                self.queue_consumer.requeue_message(message)

    def _handle_batch_result(self, messages, incoming, worker_ctx, result=None,
                             exc_info=None):
        self._slots.release()
        if exc_info is not None:
            text = "".join(traceback.format_exception(*exc_info))
            outcomes = [(exc_info[1], text)] * len(messages)
        elif not isinstance(result, list) or len(result) != len(messages):
            error = TypeError(f"a batch handler must return one outcome per message "
                              f"({len(messages)}), got {type(result).__name__}")
            outcomes = [(error, str(error))] * len(messages)
        else:
            outcomes = [(failure, "".join(traceback.format_exception(failure))
                         if failure is not None else "") for failure in result]
        for message, described, (failure, text) in zip(messages, incoming, outcomes):
            if failure is None:
                self.queue_consumer.ack_message(message)
            else:
                self.fail(message, described, failure, text)
        return result, exc_info


event_handler = EventHandler.decorator
inbound_consumer = InboundConsumer.decorator
inbound_batch_consumer = InboundBatchConsumer.decorator
