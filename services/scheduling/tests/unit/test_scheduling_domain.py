from datetime import date

from nameko.testing.services import worker_factory

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_scheduling import domain
from score_scheduling.service import SchedulingService


def test_workshop_days_skip_weekends():
    # 2027-03-26 is a Friday: the next two consecutive working days are Monday and Tuesday.
    assert domain.first_two_working_days(date(2027, 3, 26)) == [date(2027, 3, 29),
                                                                date(2027, 3, 30)]


def test_workshop_days_skip_public_holidays():
    # 2027-08-17 (Tuesday) is Indonesia's Independence Day.
    days = domain.first_two_working_days(date(2027, 8, 16))
    assert date(2027, 8, 17) not in days
    assert days == [date(2027, 8, 18), date(2027, 8, 19)]


def test_a_placeholder_workshop_is_held_in_the_provinces_zone():
    workshop = domain.placeholder_workshop(3, "ID-BA", date(2027, 3, 22))
    assert workshop["timezone"] == "Asia/Makassar"
    assert workshop["workshop_id"] == "ws-m3-id-ba-202703"


class FakeRepository:
    def __init__(self):
        self.saved = {}

    def registration(self, registration_id):
        return self.saved.get(registration_id)

    def workshop(self, data):
        from score_scheduling.models import Workshop

        return Workshop(id=data["workshop_id"], **{k: v for k, v in data.items()
                                                    if k != "workshop_id"})

    def insert(self, doc):
        self.saved[doc.pk] = doc
        return doc


class FakeOutbox:
    def __init__(self):
        self.recorded = []

    def record(self, doc, event_type, payload):
        # the real outbox validates through the contract; so does the fake
        registry.build(event_type, payload, producer="scheduling")
        self.recorded.append((event_type, payload))

    def publish(self, doc):
        pass


def test_an_accepted_enrollment_is_registered_once():
    service = worker_factory(SchedulingService, store=FakeRepository(), outbox=FakeOutbox())
    event = registry.decode(registry.build("enrollment_accepted", SAMPLE_ENROLLMENT_ACCEPTED,
                                           producer="enrollment"))
    service.handle_enrollment_accepted(event)
    service.handle_enrollment_accepted(event)
    [(event_type, payload)] = service.outbox.recorded
    assert event_type == "participant_registered"
    assert payload["workshop"]["days"] == [date(2027, 3, 1), date(2027, 3, 2)]
    assert len(payload["participants"]) == 2
