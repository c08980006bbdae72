"""Intake writes rows, not mongoengine documents: each row must be exactly what its document
class would have stored, so every other reader (views, status changes, the sweeper) loads it."""
import json
from datetime import date, datetime, timezone

import pytest

from score_common.messaging.outbox import OutboxHandle
from score_common.store import VersionedDocument, stored_envelope
from score_enrollment import intake
from score_enrollment.examples import valid_submission
from score_enrollment.models import (
    Enrollment, Enterprise, EnterpriseNameKey, ModuleSeat, Submission,
)

TODAY = date(2027, 1, 10)
NOW = datetime(2027, 1, 10, 3, 4, 5, 678000, tzinfo=timezone.utc)


class _Provider:
    producer = "enrollment"


@pytest.fixture
def builder():
    return intake.Intake(store=None, outbox=OutboxHandle(_Provider(), {}), today=TODAY)


def _unit(builder, body=None, message_id="m-1"):
    receipt = intake.Receipt(partner_id="bedo", message_id=message_id, channel="amqp",
                             body=json.dumps(body or valid_submission(today=TODAY)).encode(),
                             received_at=NOW)
    unit = intake._Unit(receipt, builder._key(receipt))
    unit.submission, unit.errors = builder._read(receipt)
    return unit


def assert_stored_form(doc_cls, row):
    """The row loads as a valid document whose stored form is the row itself."""
    loaded = doc_cls._from_son(row)
    loaded.validate()
    assert loaded.to_mongo().to_dict() == row
    if issubclass(doc_cls, VersionedDocument):
        assert loaded.version == 1


def test_seat_enterprise_and_name_key_rows_are_their_documents(builder):
    unit = _unit(builder)
    assert_stored_form(ModuleSeat, intake._seat_row(unit, NOW))
    assert_stored_form(Enterprise, intake._enterprise_row(unit, NOW))
    assert_stored_form(EnterpriseNameKey, intake._name_key_row("ud-x:bandung", unit))


def test_an_enrollment_row_is_its_document_with_its_event_in_the_outbox(builder):
    unit = _unit(builder)
    row, built = builder._new_enrollment(unit)
    assert_stored_form(Enrollment, row)
    [event] = [stored_envelope(entry) for entry in Enrollment._from_son(row).outbox]
    assert event == built
    assert event["event_type"] == "enrollment_accepted"
    assert event["payload"]["team"] == [
        {**member, "participant_id": f"{row['_id']}-p{i + 1}"}
        for i, member in enumerate(json.loads(json.dumps(unit.submission["team"])))]


def test_accepted_and_rejected_submission_rows_are_their_documents(builder):
    accepted = _unit(builder)
    accepted.enrollment, _ = builder._new_enrollment(accepted)
    row, event = builder._acceptance(accepted)
    assert event is None  # its enrollment carries enrollment_accepted
    assert_stored_form(Submission, row)
    assert "body" not in row  # an accepted body lives on as the enrollment
    assert Submission._from_son(row).answer == accepted.answer

    rejected = _unit(builder, body={"schema_version": 1, "module": 9}, message_id="m-2")
    assert rejected.errors
    row, built = builder._rejection(rejected)
    assert_stored_form(Submission, row)
    stored = Submission._from_son(row)
    assert stored.outcome == "rejected" and json.loads(stored.body)["module"] == 9
    [event] = [stored_envelope(entry) for entry in stored.outbox]
    assert event == built
    assert event["event_type"] == "enrollment_rejected"
    assert {e["field"] for e in event["payload"]["errors"]} == set(rejected.errors)
