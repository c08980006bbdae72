"""Publishing that cannot lose a message silently: publisher confirms and mandatory routing.

Built on nameko's own Publisher (a pooled kombu producer), which raises
UndeliverableMessage when the broker returns a mandatory message that no queue would take.
"""
from __future__ import annotations

from nameko.amqp.publish import Publisher, UndeliverableMessage

from score_common.envelope import routing_key
from score_common.messaging.topology import Topology

__all__ = ["AmqpPublisher", "UndeliverableMessage"]


class AmqpPublisher:
    def __init__(self, amqp_uri: str, topology: Topology):
        self.topology = topology
        self._publisher = Publisher(
            amqp_uri, use_confirms=True, mandatory=True, serializer="json", retry=True,
        )

    def publish_event(self, envelope: dict) -> None:
        """Publish one envelope; returns once the broker has confirmed it."""
        self._publisher.publish(
            envelope,
            exchange=self.topology.events_exchange,
            routing_key=routing_key(envelope["producer"], envelope["event_type"]),
            message_id=envelope["event_id"],
            correlation_id=envelope["correlation_id"],
            type=envelope["event_type"],
            headers={"x-score-event-version": envelope["version"]},
        )

    def publish_raw(self, body: bytes, *, exchange: str, routing_key: str,
                    properties: dict, headers: dict) -> None:
        """Republish a received message byte for byte (retries, dead letters, replays)."""
        self._publisher.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers,
            content_type=properties.get("content_type") or "application/octet-stream",
            content_encoding=properties.get("content_encoding") or "binary",
            **{k: v for k, v in properties.items()
               if k in ("message_id", "correlation_id", "type", "reply_to", "timestamp",
                        "app_id", "user_id") and v is not None},
        )
