import json

import pytest
from nameko.testing.services import worker_factory

from score_common.messaging.consumer import IncomingMessage
from score_enrollment import domain
from score_enrollment.service import EnrollmentService, Rejected, parse_submission

with open(__file__.rsplit("/services/", 1)[0] + "/samples/partner-enrollment.json") as f:
    SAMPLE = json.load(f)


def incoming(body, user_id="bedo", message_id="m-1"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return IncomingMessage(body=raw, properties={"user_id": user_id, "message_id": message_id},
                           headers={}, routing_key="submission.bedo", exchange="x")


@pytest.mark.parametrize("current, target", [("submitted", "accepted"), ("accepted", "waitlisted"),
                                             ("coaching", "completed"), ("in_training", "withdrawn")])
def test_valid_transitions(current, target):
    domain.check_transition(current, target)


@pytest.mark.parametrize("current, target", [("completed", "accepted"), ("rejected", "accepted"),
                                             ("submitted", "coaching"), ("withdrawn", "in_training")])
def test_invalid_transitions_say_what_is_allowed(current, target):
    with pytest.raises(domain.InvalidTransition, match="allowed"):
        domain.check_transition(current, target)


def test_the_same_partner_message_names_the_same_enrollment():
    assert domain.enrollment_id("bedo", "m-1") == domain.enrollment_id("bedo", "m-1")
    assert domain.enrollment_id("bedo", "m-1") != domain.enrollment_id("apindo", "m-1")


def test_the_sample_submission_is_valid():
    partner, message_id, submission = parse_submission(incoming(SAMPLE))
    assert (partner, message_id, submission["module"]) == ("bedo", "m-1", 1)


@pytest.mark.parametrize("change, field", [
    (lambda s: s["team"].pop(0), "team"),  # no manager left
    (lambda s: s["enterprise"].update(province="Jakarta"), "enterprise"),
    (lambda s: s.update(module=6), "module"),
    (lambda s: s.update(schema_version=2), "schema_version"),
    (lambda s: s["preferred_period"].update(end="2027-01-01"), "preferred_period"),
])
def test_a_bad_submission_is_rejected_naming_the_field(change, field):
    submission = json.loads(json.dumps(SAMPLE))
    change(submission)
    with pytest.raises(Rejected) as rejected:
        parse_submission(incoming(submission))
    assert field in rejected.value.errors


@pytest.mark.parametrize("message, field", [
    (incoming(b"{not json"), "_body"),
    (incoming(SAMPLE, user_id=None), "user_id"),
    (incoming(SAMPLE, message_id=None), "message_id"),
])
def test_an_unidentifiable_or_unreadable_submission_is_rejected(message, field):
    with pytest.raises(Rejected) as rejected:
        parse_submission(message)
    assert field in rejected.value.errors


class FakeRepository:
    def __init__(self):
        self.enterprises, self.enrollments = {}, {}

    def get_enrollment(self, enrollment_id):
        return self.enrollments.get(enrollment_id)

    def register_enterprise(self, enterprise_id, data):
        from score_enrollment.models import Enterprise

        return self.enterprises.setdefault(enterprise_id, Enterprise(id=enterprise_id, **data))

    def new_enrollment(self, **fields):
        from score_enrollment.models import Enrollment

        return Enrollment(**fields)

    def insert(self, doc):
        self.enrollments[doc.pk] = doc
        return doc


class FakeOutbox:
    def __init__(self):
        self.recorded, self.published = [], []

    def record(self, doc, event_type, payload):
        self.recorded.append((doc.pk, event_type, payload))

    def publish(self, doc):
        self.published.append(doc.pk)


def test_a_submission_becomes_one_enrollment_and_one_event_however_often_it_comes():
    service = worker_factory(EnrollmentService, store=FakeRepository(), outbox=FakeOutbox())
    first = service.handle_submission(incoming(SAMPLE))
    again = service.handle_submission(incoming(SAMPLE))
    assert first == again
    assert list(service.store.enrollments) == [first]
    [(doc_id, event_type, payload)] = service.outbox.recorded
    assert (doc_id, event_type) == (first, "enrollment_accepted")
    assert payload["partner_id"] == "bedo"
    assert [m["participant_id"] for m in payload["team"]] == [f"{first}-p1", f"{first}-p2"]
    assert service.outbox.published == [first, first]  # a resubmission re-sends what is pending
