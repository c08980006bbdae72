"""The versioned event envelope and the registry of event contracts.

Every event that crosses a service boundary travels in an envelope (id, type, version,
occurred-at, producer, correlation and causation ids, payload). Producers build envelopes
through `EventRegistry.build`, which dumps and re-validates the payload through its schema;
consumers open them through `EventRegistry.decode`, which refuses an unknown type or version
and an invalid payload with the reason. Both sides use the same registered schema.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate


class PermanentMessageError(Exception):
    """A message that no retry can fix: it goes straight to the dead-letter queue."""


class UnknownEventType(PermanentMessageError):
    pass


class UnsupportedEventVersion(PermanentMessageError):
    pass


class ContractViolation(PermanentMessageError):
    """A payload or envelope does not match its schema; `errors` names each field and why."""

    def __init__(self, message: str, errors: dict):
        super().__init__(f"{message}: {json.dumps(errors, sort_keys=True, default=str)}")
        self.errors = errors


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # a newer envelope may carry extra fields; old readers ignore them

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    producer = fields.String(required=True, validate=validate.Length(min=1, max=50))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    causation_id = fields.String(load_default=None, allow_none=True)
    payload = fields.Dict(required=True)


ENVELOPE_SCHEMA = EnvelopeSchema()


@dataclass(frozen=True)
class Event:
    """A decoded, validated event as a handler receives it."""

    event_id: str
    event_type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    causation_id: str | None
    payload: dict = field(repr=False)

    @property
    def routing_key(self) -> str:
        return routing_key(self.producer, self.event_type)


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def routing_key(producer: str, event_type: str) -> str:
    return f"{producer}.{event_type}"


@dataclass(frozen=True)
class Contract:
    producer: str
    event_type: str
    version: int
    schema: type[Schema]
    sample: dict  # a valid payload, used by the contract tests and the docs


class EventRegistry:
    """Known event contracts, keyed by (event type, version)."""

    def __init__(self):
        self._contracts: dict[tuple[str, int], Contract] = {}
        # Making a schema (fields deep-copied, nested schemas built) costs more than loading
        # a payload with it, and a schema keeps no state between loads: one each serves all.
        self._schemas: dict[tuple[str, int], Schema] = {}

    def _schema(self, contract: "Contract") -> Schema:
        key = (contract.event_type, contract.version)
        if key not in self._schemas:
            self._schemas[key] = contract.schema()
        return self._schemas[key]

    def register(self, producer: str, event_type: str, version: int, sample: dict):
        def decorator(schema_cls: type[Schema]) -> type[Schema]:
            key = (event_type, version)
            if key in self._contracts:
                raise ValueError(f"event contract {event_type} v{version} is registered twice")
            self._contracts[key] = Contract(producer, event_type, version, schema_cls, sample)
            return schema_cls

        return decorator

    def contracts(self) -> list[Contract]:
        return list(self._contracts.values())

    def contract(self, event_type: str, version: int | None = None) -> Contract:
        versions = sorted(v for (t, v) in self._contracts if t == event_type)
        if not versions:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        if version is None:
            version = versions[-1]
        if version not in versions:
            raise UnsupportedEventVersion(
                f"event type {event_type!r} has no version {version}; "
                f"supported: {', '.join(map(str, versions))}"
            )
        return self._contracts[(event_type, version)]

    def build(
        self,
        event_type: str,
        payload: dict,
        *,
        producer: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        version: int | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> dict:
        """A JSON-ready envelope; raises ContractViolation if the payload breaks its schema."""
        contract = self.contract(event_type, version)
        if contract.producer != producer:
            raise ContractViolation(
                f"{producer!r} may not emit {event_type!r}",
                {"producer": [f"{event_type} is produced by {contract.producer}"]},
            )
        schema = self._schema(contract)
        # Producers may hand over Python values (dates) or JSON forms; the JSON form goes out
        # once the schema has loaded it (validation). Fields the producer left out are left to
        # each consumer's schema and its defaults.
        as_json = json.loads(json.dumps(payload, default=_json_default))
        try:
            schema.load(as_json, unknown=RAISE)
        except ValidationError as exc:
            raise ContractViolation(f"payload of {event_type} v{contract.version} is invalid",
                                    exc.messages) from None
        event_id = event_id or str(uuid.uuid4())
        return {
            "event_id": event_id,
            "event_type": event_type,
            "version": contract.version,
            "occurred_at": (occurred_at or datetime.now(timezone.utc)).isoformat(),
            "producer": producer,
            "correlation_id": correlation_id or event_id,
            "causation_id": causation_id,
            "payload": as_json,
        }

    def decode(self, envelope: dict | bytes | str) -> Event:
        """Open an envelope; every failure is a PermanentMessageError with the reason."""
        if isinstance(envelope, (bytes, str)):
            try:
                envelope = json.loads(envelope)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ContractViolation("event body is not JSON", {"_body": [str(exc)]}) from None
        if not isinstance(envelope, dict):
            raise ContractViolation("event body is not a JSON object",
                                    {"_body": [f"got {type(envelope).__name__}"]})
        try:
            head = ENVELOPE_SCHEMA.load(envelope)
        except ValidationError as exc:
            raise ContractViolation("event envelope is invalid", exc.messages) from None
        contract = self.contract(head["event_type"], head["version"])
        if head["producer"] != contract.producer:
            raise ContractViolation(
                "event producer does not match its contract",
                {"producer": [f"{head['event_type']} is produced by {contract.producer}, "
                              f"not {head['producer']}"]},
            )
        try:
            payload = self._schema(contract).load(head["payload"])
        except ValidationError as exc:
            raise ContractViolation(
                f"payload of {head['event_type']} v{head['version']} is invalid", exc.messages
            ) from None
        return Event(
            event_id=str(head["event_id"]),
            event_type=head["event_type"],
            version=head["version"],
            occurred_at=head["occurred_at"],
            producer=head["producer"],
            correlation_id=head["correlation_id"],
            causation_id=head["causation_id"],
            payload=payload,
        )
