"""The whole RabbitMQ topology of the platform, declared up front by every service.

nameko's dispatcher publishes with mandatory=False, so an event sent before its consumers'
queues exist vanishes while still confirmed. Here every consumer queue is listed centrally and
every service declares all of them on start, before it publishes anything; publishing is also
mandatory, so an event that no queue would take fails loudly instead of vanishing.

For each consumer queue ``<ns>.<service>.<handler>`` there are:
- ``<queue>.retry.<ms>ms``: one per backoff delay; a failed message waits there (queue TTL)
  and is dead-lettered straight back to its own queue, not re-broadcast to other consumers.
  One queue per delay keeps each FIFO: a short wait never queues behind a long one.
- ``<queue>.dead``: messages that exhausted their retries or can never succeed, with the
  error, attempt count and origin in their headers.
"""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue, binding


@dataclass(frozen=True)
class Subscription:
    service: str
    handler: str
    routing_keys: tuple[str, ...]  # <producer>.<event_type>, topic patterns allowed


@dataclass(frozen=True)
class InboundQueue:
    """A queue fed by something other than platform events (partner systems)."""

    service: str
    key: str
    exchange: str  # without namespace
    routing_keys: tuple[str, ...]


# Every consumer of a platform event. A handler that is not listed here refuses to start.
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("scheduling", "handle_enrollment_accepted", ("enrollment.enrollment_accepted",)),
    Subscription("scheduling", "handle_enrollment_status_changed",
                 ("enrollment.enrollment_status_changed",)),
    # A trainer's visit days are booked like workshop days, so neither double-books the other.
    Subscription("scheduling", "handle_visit_scheduled", ("coaching.visit_scheduled",)),
    Subscription("scheduling", "handle_visit_cancelled", ("coaching.visit_cancelled",)),
    # A cohort whose coaching has ended is due its results workshop.
    Subscription("scheduling", "handle_coaching_completed", ("coaching.coaching_completed",)),
    # The enrollment's status follows its placement: waiting, in training, on to coaching.
    Subscription("enrollment", "handle_participant_registered",
                 ("scheduling.participant_registered",)),
    Subscription("enrollment", "handle_participant_waitlisted",
                 ("scheduling.participant_waitlisted",)),
    Subscription("enrollment", "handle_workshop_completed", ("scheduling.workshop_completed",)),
    # Coaching drafts a team's visits when it is placed, follows its workshop when it moves,
    # books them when the team qualifies, stops them when the enrollment is withdrawn, and
    # moves (or hands over) a visit whose day its trainer already has.
    Subscription("coaching", "handle_participant_registered",
                 ("scheduling.participant_registered",)),
    Subscription("coaching", "handle_workshop_rescheduled", ("scheduling.workshop_rescheduled",)),
    Subscription("coaching", "handle_workshop_cancelled", ("scheduling.workshop_cancelled",)),
    Subscription("coaching", "handle_registration_cancelled",
                 ("scheduling.registration_cancelled",)),
    Subscription("coaching", "handle_workshop_completed", ("scheduling.workshop_completed",)),
    Subscription("coaching", "handle_visit_conflict", ("scheduling.visit_conflict",)),
    # Notifications plans reminders from events alone: workshops, visits, reports, and the
    # trainers' contacts.
    Subscription("notifications", "handle_participant_registered",
                 ("scheduling.participant_registered",)),
    Subscription("notifications", "handle_workshop_rescheduled",
                 ("scheduling.workshop_rescheduled",)),
    Subscription("notifications", "handle_workshop_cancelled",
                 ("scheduling.workshop_cancelled",)),
    Subscription("notifications", "handle_registration_cancelled",
                 ("scheduling.registration_cancelled",)),
    Subscription("notifications", "handle_trainer_registered",
                 ("scheduling.trainer_registered",)),
    Subscription("notifications", "handle_partner_registered",
                 ("enrollment.partner_registered",)),
    Subscription("notifications", "handle_visit_scheduled", ("coaching.visit_scheduled",)),
    Subscription("notifications", "handle_visit_cancelled", ("coaching.visit_cancelled",)),
    Subscription("notifications", "handle_visit_overdue", ("coaching.visit_overdue",)),
    Subscription("notifications", "handle_report_ready", ("reporting.report_ready",)),
    # Reporting builds its read models from every event the platform emits.
    Subscription("reporting", "handle_platform_event", ("#",)),
)

INBOUND_QUEUES: tuple[InboundQueue, ...] = (
    InboundQueue("enrollment", "intake", "partner.submissions", ("submission.*",)),
)


class UnknownConsumer(LookupError):
    pass


class Topology:
    def __init__(self, namespace: str = "score", retry_delays=(1.0, 5.0, 30.0),
                 queue_type: str = "classic"):
        self.namespace = namespace
        self.retry_delays = tuple(retry_delays)
        self.queue_type = queue_type

    @classmethod
    def from_config(cls, config: dict) -> "Topology":
        return cls(config.get("SCORE_NAMESPACE", "score"),
                   config.get("SCORE_RETRY_DELAYS", (1.0, 5.0, 30.0)),
                   config.get("SCORE_QUEUE_TYPE", "classic"))

    # -- exchanges --------------------------------------------------------------------------
    @property
    def events_exchange(self) -> Exchange:
        return Exchange(f"{self.namespace}.events", type="topic", durable=True)

    def inbound_exchange(self, name: str) -> Exchange:
        return Exchange(f"{self.namespace}.{name}", type="topic", durable=True)

    # -- partners ---------------------------------------------------------------------------
    # A partner publishes to the submissions exchange with routing key submission.<partner>
    # (its topic permission allows no other) and reads its answers from its own queue.
    @property
    def submissions_exchange_name(self) -> str:
        return f"{self.namespace}.partner.submissions"

    @property
    def outcomes_exchange(self) -> Exchange:
        return Exchange(f"{self.namespace}.partner.outcomes", type="direct", durable=True)

    def partner_outcome_queue_name(self, partner: str) -> str:
        return f"{self.namespace}.partner.outcomes.{partner}"

    def partner_outcome_queue(self, partner: str) -> Queue:
        return Queue(self.partner_outcome_queue_name(partner),
                     bindings=[binding(self.outcomes_exchange, routing_key=partner)],
                     durable=True, queue_arguments=self._arguments())

    # -- queues ----------------------------------------------------------------------------
    def _arguments(self, **extra) -> dict:
        args = {"x-queue-type": self.queue_type}
        if self.queue_type == "quorum":
            # Quorum queues dead-letter at most once unless told otherwise; a retry must not
            # be lost between the retry queue and its origin.
            args.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
        args.update(extra)
        return args

    def subscription(self, service: str, handler: str) -> Subscription:
        for sub in SUBSCRIPTIONS:
            if sub.service == service and sub.handler == handler:
                return sub
        raise UnknownConsumer(
            f"{service}.{handler} is not a declared subscription; add it to "
            "score_common.messaging.topology.SUBSCRIPTIONS so its queue exists before "
            "anything is published to it"
        )

    def inbound(self, service: str, key: str) -> InboundQueue:
        for inbound in INBOUND_QUEUES:
            if inbound.service == service and inbound.key == key:
                return inbound
        raise UnknownConsumer(f"{service}.{key} is not a declared inbound queue")

    def subscription_queue(self, sub: Subscription) -> Queue:
        exchange = self.events_exchange
        return Queue(
            f"{self.namespace}.{sub.service}.{sub.handler}",
            bindings=[binding(exchange, routing_key=key) for key in sub.routing_keys],
            durable=True,
            queue_arguments=self._arguments(),
        )

    def inbound_queue(self, inbound: InboundQueue) -> Queue:
        exchange = self.inbound_exchange(inbound.exchange)
        return Queue(
            f"{self.namespace}.{inbound.service}.{inbound.key}",
            bindings=[binding(exchange, routing_key=key) for key in inbound.routing_keys],
            durable=True,
            queue_arguments=self._arguments(),
        )

    def retry_queue_name(self, queue_name: str, delay: float) -> str:
        return f"{queue_name}.retry.{int(round(delay * 1000))}ms"

    def retry_queues(self, queue_name: str) -> list[Queue]:
        return [
            Queue(
                self.retry_queue_name(queue_name, delay),
                durable=True,
                queue_arguments=self._arguments(**{
                    "x-message-ttl": int(round(delay * 1000)),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue_name,
                }),
            )
            for delay in sorted(set(self.retry_delays))
        ]

    def dead_queue_name(self, queue_name: str) -> str:
        return f"{queue_name}.dead"

    def dead_queue(self, queue_name: str) -> Queue:
        return Queue(self.dead_queue_name(queue_name), durable=True,
                     queue_arguments=self._arguments())

    def consumer_queues(self) -> list[Queue]:
        return [self.subscription_queue(s) for s in SUBSCRIPTIONS] + [
            self.inbound_queue(i) for i in INBOUND_QUEUES
        ]

    def all_queues(self) -> list[Queue]:
        queues = []
        for queue in self.consumer_queues():
            queues.append(queue)
            queues.extend(self.retry_queues(queue.name))
            queues.append(self.dead_queue(queue.name))
        return queues

    def declare(self, connection) -> None:
        """Declare every exchange, queue and binding (idempotent)."""
        channel = connection.channel()
        try:
            self.events_exchange(channel).declare()
            self.outcomes_exchange(channel).declare()
            for inbound in INBOUND_QUEUES:
                self.inbound_exchange(inbound.exchange)(channel).declare()
            for queue in self.all_queues():
                queue(channel).declare()
        finally:
            channel.close()
