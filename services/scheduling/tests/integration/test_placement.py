"""Scheduling on the real broker and database: the calendar's rules, placement, the waiting
list, and placements racing for the last seats."""
import json

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_common.errors import Refused
from score_common.testing import drain_queue, queue_depth, wait_until
from score_scheduling.service import SchedulingService

MONDAY, TUESDAY = "2027-03-22", "2027-03-23"


@pytest.fixture
def calendar(start_service):
    """A running scheduling service with a venue and two trainers, and an RPC proxy to it."""
    config = start_service(SchedulingService)
    with ClusterRpcProxy(config, timeout=30) as cluster:
        cluster.scheduling.register_venue({
            "code": "blk-jaktim", "name": "BLK Jakarta Timur", "province": "ID-JK",
            "district": "Jakarta Timur", "capacity": 30})
        cluster.scheduling.register_venue({
            "code": "blk-bekasi", "name": "BLK Bekasi", "province": "ID-JK",
            "district": "Bekasi", "capacity": 30})
        for code, modules in (("siti", [1, 2]), ("agus", [3])):
            cluster.scheduling.register_trainer({
                "code": code, "name": code.title(), "partner_id": "bedo", "modules": modules,
                "provinces": ["ID-JK", "ID-JB"],
                "unavailable": [{"start": "2027-05-03", "end": "2027-05-14",
                                 "reason": "refresher training"}]})
        yield config, cluster.scheduling


def workshop(**changes):
    return {"module": 1, "venue_id": "ven-blk-jaktim", "trainer_ids": ["trn-siti"],
            "partner_id": "bedo", "capacity_enterprises": 4, "capacity_seats": 20,
            "days": [MONDAY, TUESDAY], **changes}


def accepted(n: int, team: int = 2) -> dict:
    members = [{**SAMPLE_ENROLLMENT_ACCEPTED["team"][i % 2], "participant_id": f"p-{n}-{i}"}
               for i in range(team)]
    return registry.build("enrollment_accepted", {
        **SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": f"enr-{n:04d}", "team": members,
        "enterprise": {**SAMPLE_ENROLLMENT_ACCEPTED["enterprise"],
                       "enterprise_id": f"ent-{n:04d}"}}, producer="enrollment")


def test_a_workshop_is_scheduled_in_the_venues_zone_and_announced(calendar):
    config, scheduling = calendar
    scheduled = scheduling.schedule_workshop(workshop(starts="09:00:00", ends="15:30:00"))
    assert scheduled["timezone"] == "Asia/Jakarta" and scheduled["status"] == "planned"
    first = scheduled["sessions"][0]
    assert first["starts_at"] == "2027-03-22T02:00:00+00:00"
    assert first["local_start"] == "2027-03-22T09:00:00+07:00"
    assert scheduling.get_workshop(scheduled["workshop_id"])["registrations"] == []
    reporting = f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    wait_until(lambda: queue_depth(config["AMQP_URI"], reporting) >= 1,
               what="workshop_scheduled published")
    [event] = [json.loads(m.body) for m in drain_queue(config["AMQP_URI"], reporting)]
    assert event["event_type"] == "workshop_scheduled"
    assert event["payload"]["workshop_id"] == scheduled["workshop_id"]


@pytest.mark.parametrize("changes, field, reason", [
    ({"days": ["2027-03-20", "2027-03-21"]}, "days[0]", "is a Saturday"),
    ({"days": ["2027-08-16", "2027-08-17"]}, "days[1]", "public holiday in Indonesia"),
    ({"days": [MONDAY, "2027-03-24"]}, "days", "the second day must follow the first"),
    ({"days": ["2025-03-03", "2025-03-04"]}, "days[0]", "in the past"),
    ({"trainer_ids": ["trn-agus"]}, "trainer_ids[0]", "not certified for module 1"),
    ({"trainer_ids": ["trn-nobody"]}, "trainer_ids[0]", "no trainer 'trn-nobody'"),
    ({"days": ["2027-05-10", "2027-05-11"]}, "trainer_ids[0]", "refresher training"),
    ({"capacity_seats": 31}, "capacity_seats", "over capacity: the venue holds 30"),
    ({"venue_id": "ven-nowhere"}, "venue_id", "no venue"),
    ({"module": 9}, "module", "Must be one of"),
    ({"rooms": 2}, "rooms", "Unknown field"),
])
def test_a_bad_workshop_is_refused_with_its_reason_and_changes_nothing(
        calendar, changes, field, reason):
    _, scheduling = calendar
    with pytest.raises(Refused) as refused:
        scheduling.schedule_workshop(workshop(**changes))
    assert field in refused.value.errors, refused.value.errors
    assert any(reason in r for r in refused.value.errors[field]), refused.value.errors
    assert scheduling.list_workshops() == []
    # nothing was booked: the same venue and trainer are free for a good workshop
    assert scheduling.schedule_workshop(workshop())["status"] == "planned"


def test_a_trainer_or_venue_is_never_double_booked(calendar):
    _, scheduling = calendar
    first = scheduling.schedule_workshop(workshop())
    with pytest.raises(Refused) as refused:  # same trainer, other venue, overlapping day
        scheduling.schedule_workshop(workshop(venue_id="ven-blk-bekasi",
                                              days=[TUESDAY, "2027-03-24"]))
    assert refused.value.errors == {"trainer_ids[0]": [
        f"trn-siti is already booked on {TUESDAY} ({first['workshop_id']})"]}
    with pytest.raises(Refused) as refused:  # same venue, other trainer
        scheduling.schedule_workshop(workshop(module=3, trainer_ids=["trn-agus"]))
    assert list(refused.value.errors) == ["venue_id"]
    # the refused attempts left no booking behind: Bekasi on the 23rd and 24th is free
    assert scheduling.schedule_workshop(workshop(
        module=3, trainer_ids=["trn-agus"], venue_id="ven-blk-bekasi",
        days=[TUESDAY, "2027-03-24"]))["status"] == "planned"
    # repeating a command with its id returns the workshop, it does not book twice
    again = scheduling.schedule_workshop(workshop(workshop_id=first["workshop_id"]))
    assert again["workshop_id"] == first["workshop_id"]


def test_an_enrollment_is_placed_or_waits_and_is_placed_when_a_workshop_opens(
        calendar, publisher):
    config, scheduling = calendar
    small = scheduling.schedule_workshop(workshop(capacity_enterprises=1))
    publisher.publish_event(accepted(1))
    publisher.publish_event(accepted(1))  # a redelivery changes nothing
    first = wait_until(lambda: scheduling.get_registration("reg-enr-0001"), what="placement")
    assert first["status"] == "registered" and first["workshop_id"] == small["workshop_id"]

    publisher.publish_event(accepted(2))
    second = wait_until(lambda: scheduling.get_registration("reg-enr-0002"), what="placement")
    assert second["status"] == "waitlisted" and second["workshop_id"] is None

    later = scheduling.schedule_workshop(workshop(venue_id="ven-blk-bekasi",
                                                  days=["2027-03-29", "2027-03-30"]))
    promoted = scheduling.get_registration("reg-enr-0002")
    assert promoted["status"] == "registered"
    assert promoted["workshop_id"] == later["workshop_id"]
    assert scheduling.get_workshop(later["workshop_id"])["enterprises_registered"] == 1

    notifications = f"{config['SCORE_NAMESPACE']}.notifications.handle_participant_registered"
    wait_until(lambda: queue_depth(config["AMQP_URI"], notifications) == 2,
               what="participant_registered for both, once each")
    reporting = f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    types = [json.loads(m.body)["event_type"]
             for m in drain_queue(config["AMQP_URI"], reporting, timeout=1)]
    assert types.count("participant_waitlisted") == 1


def test_placements_racing_for_the_last_seats_never_overfill_a_workshop(
        calendar, publisher):
    _, scheduling = calendar
    target = scheduling.schedule_workshop(workshop(capacity_enterprises=3,
                                                   capacity_seats=20))
    for n in range(10, 18):
        publisher.publish_event(accepted(n, team=3))
    registrations = wait_until(lambda: (lambda found: found if all(found) else None)(
        [scheduling.get_registration(f"reg-enr-{n:04d}") for n in range(10, 18)]),
        what="all eight placed or waiting")
    registered = [r for r in registrations if r["status"] == "registered"]
    assert len(registered) == 3
    assert {r["workshop_id"] for r in registered} == {target["workshop_id"]}
    assert sum(r["status"] == "waitlisted" for r in registrations) == 5
    held = scheduling.get_workshop(target["workshop_id"])
    assert held["enterprises_registered"] == 3 and held["seats_taken"] == 9
