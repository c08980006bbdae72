import json
from datetime import date

import pytest

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_common.envelope import (
    ContractViolation, EventRegistry, PermanentMessageError, UnknownEventType,
    UnsupportedEventVersion,
)


def build(**changes):
    return registry.build("enrollment_accepted", {**SAMPLE_ENROLLMENT_ACCEPTED, **changes},
                          producer="enrollment", correlation_id="corr-1", causation_id="cause-1")


def test_an_envelope_round_trips_through_json():
    envelope = build()
    event = registry.decode(json.dumps(envelope).encode())
    assert event.event_id == envelope["event_id"]
    assert (event.event_type, event.version, event.producer) == ("enrollment_accepted", 1,
                                                                 "enrollment")
    assert (event.correlation_id, event.causation_id) == ("corr-1", "cause-1")
    assert event.payload["preferred_period"]["start"] == date(2027, 3, 1)
    assert event.routing_key == "enrollment.enrollment_accepted"


def test_python_values_and_json_forms_build_the_same_payload():
    as_dates = {**SAMPLE_ENROLLMENT_ACCEPTED,
                "preferred_period": {"start": date(2027, 3, 1), "end": date(2027, 4, 30)}}
    built = registry.build("enrollment_accepted", as_dates, producer="enrollment")
    assert built["payload"] == build()["payload"]


def test_an_invalid_payload_is_refused_naming_the_field():
    with pytest.raises(ContractViolation) as refused:
        build(module=7)
    assert "module" in refused.value.errors


def test_only_the_owner_may_emit_an_event():
    with pytest.raises(ContractViolation, match="produced by enrollment"):
        registry.build("enrollment_accepted", SAMPLE_ENROLLMENT_ACCEPTED, producer="reporting")


def test_an_unknown_type_is_refused_with_the_reason():
    envelope = {**build(), "event_type": "enrollment_exploded"}
    with pytest.raises(UnknownEventType, match="enrollment_exploded"):
        registry.decode(envelope)


def test_an_unknown_version_is_refused_listing_the_supported_ones():
    with pytest.raises(UnsupportedEventVersion, match="supported: 1"):
        registry.decode({**build(), "version": 2})


@pytest.mark.parametrize("body, field", [
    (b"not json", "_body"),
    (b"[1, 2]", "_body"),
    (json.dumps({"event_type": "enrollment_accepted"}).encode(), "event_id"),
])
def test_a_broken_envelope_is_a_permanent_error_naming_the_field(body, field):
    with pytest.raises(ContractViolation) as refused:
        registry.decode(body)
    assert field in refused.value.errors
    assert isinstance(refused.value, PermanentMessageError)


def test_a_forged_producer_is_refused():
    with pytest.raises(ContractViolation, match="not scheduling"):
        registry.decode({**build(), "producer": "scheduling"})


def test_a_contract_cannot_be_registered_twice():
    local = EventRegistry()
    from marshmallow import Schema

    local.register("a", "thing_done", 1, {})(Schema)
    with pytest.raises(ValueError, match="twice"):
        local.register("a", "thing_done", 1, {})(Schema)
