"""Scheduling on the real broker and database: the calendar's rules, placement, the waiting
list, and placements racing for the last seats."""
import json
from datetime import date, timezone

import icalendar
import pymongo
import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.coaching import (
    SAMPLE_COACHING_COMPLETED, SAMPLE_VISIT_CANCELLED, SAMPLE_VISIT_SCHEDULED,
)
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
    wait_until(lambda: queue_depth(config["AMQP_URI"], reporting) >= 3,
               what="workshop_scheduled published")
    events = [json.loads(m.body) for m in drain_queue(config["AMQP_URI"], reporting)]
    [event] = [e for e in events if e["event_type"] == "workshop_scheduled"]
    assert event["payload"]["workshop_id"] == scheduled["workshop_id"]
    assert event["payload"]["venue"]["name"] == "BLK Jakarta Timur"
    # each trainer was announced once, with what notifications needs to reach them
    trainers = {e["payload"]["trainer_id"]: e["payload"] for e in events
                if e["event_type"] == "trainer_registered"}
    assert sorted(trainers) == ["trn-agus", "trn-siti"] and len(events) == 3
    assert trainers["trn-siti"]["modules"] == [1, 2]


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


def all_events(config):
    reporting = f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    return [json.loads(m.body) for m in drain_queue(config["AMQP_URI"], reporting, timeout=1)]


def events_of(config, event_type):
    return [event for event in all_events(config) if event["event_type"] == event_type]


def test_a_reschedule_moves_bookings_and_tells_every_registered_team(calendar, publisher):
    config, scheduling = calendar
    first = scheduling.schedule_workshop(workshop())
    publisher.publish_event(accepted(20))
    wait_until(lambda: (scheduling.get_registration("reg-enr-0020") or {}).get("status")
               == "registered", what="placed")
    with pytest.raises(Refused) as refused:
        scheduling.reschedule_workshop(first["workshop_id"], {
            "days": ["2027-08-17", "2027-08-18"], "reason": "the venue is flooded"})
    assert "days[0]" in refused.value.errors  # Independence Day
    moved = scheduling.reschedule_workshop(first["workshop_id"], {
        "days": [TUESDAY, "2027-03-24"], "reason": "the venue is flooded"}, actor="staff:rina")
    assert moved["days"] == [TUESDAY, "2027-03-24"]
    # Monday is let go for the venue and the trainer; Wednesday is taken
    bookings = pymongo.MongoClient(config["MONGODB_URI"])[config["MONGODB_DATABASE"]].bookings
    held = {b["_id"] for b in bookings.find({"holder": first["workshop_id"]})}
    assert held == {f"{r}:{d}" for r in ("ven-blk-jaktim", "trn-siti")
                    for d in (TUESDAY, "2027-03-24")}
    with pytest.raises(Refused):
        scheduling.schedule_workshop(workshop(venue_id="ven-blk-bekasi",
                                              days=["2027-03-24", "2027-03-25"]))
    [event] = wait_until(lambda: events_of(config, "workshop_rescheduled") or None,
                         what="workshop_rescheduled")
    payload = event["payload"]
    assert payload["previous_days"] == [MONDAY, TUESDAY] and payload["actor"] == "staff:rina"
    assert payload["workshop"]["sessions"][0]["day"] == TUESDAY
    [team] = payload["registrations"]
    assert team["registration_id"] == "reg-enr-0020"
    assert {p["phone"] for p in team["participants"]} == {"+6281234567890", "+6285712345678"}


def test_a_cancelled_workshop_frees_its_bookings_and_its_teams_wait_again(calendar, publisher):
    config, scheduling = calendar
    doomed = scheduling.schedule_workshop(workshop())
    publisher.publish_event(accepted(30))
    wait_until(lambda: (scheduling.get_registration("reg-enr-0030") or {}).get("status")
               == "registered", what="placed")
    with pytest.raises(Refused) as refused:
        scheduling.cancel_workshop(doomed["workshop_id"], {"reason": ""})
    assert "reason" in refused.value.errors
    cancelled = scheduling.cancel_workshop(doomed["workshop_id"], {"reason": "trainer is ill"})
    assert cancelled["status"] == "cancelled"
    assert scheduling.cancel_workshop(doomed["workshop_id"], {"reason": "again"})["status"] \
        == "cancelled"
    waiting = scheduling.get_registration("reg-enr-0030")
    assert waiting["status"] == "waitlisted" and waiting["workshop_id"] is None
    with pytest.raises(Refused) as refused:
        scheduling.reschedule_workshop(doomed["workshop_id"], {
            "days": ["2027-03-29", "2027-03-30"], "reason": "try again"})
    assert "only a planned workshop" in refused.value.errors["workshop_id"][0]
    # the venue and trainer are free on those days, and the waiting team is placed there
    again = scheduling.schedule_workshop(workshop())
    assert scheduling.get_registration("reg-enr-0030")["workshop_id"] == again["workshop_id"]
    [event] = events_of(config, "workshop_cancelled")
    assert [r["registration_id"] for r in event["payload"]["registrations"]] == \
        ["reg-enr-0030"]


def test_a_withdrawal_frees_the_seats_for_the_next_team_waiting(calendar, publisher):
    config, scheduling = calendar
    single = scheduling.schedule_workshop(workshop(capacity_enterprises=1))
    publisher.publish_event(accepted(40))
    wait_until(lambda: (scheduling.get_registration("reg-enr-0040") or {}).get("status")
               == "registered", what="first placed")
    publisher.publish_event(accepted(41))
    wait_until(lambda: (scheduling.get_registration("reg-enr-0041") or {}).get("status")
               == "waitlisted", what="second waiting")
    withdrawal = registry.build("enrollment_status_changed", {
        "enrollment_id": "enr-0040", "partner_id": "bedo", "enterprise_id": "ent-0040",
        "module": 1, "previous_status": "accepted", "status": "withdrawn",
        "reason": "the enterprise closed", "actor": "partner:bedo",
        "changed_at": "2027-02-01T03:00:00+00:00"}, producer="enrollment")
    publisher.publish_event(withdrawal)
    publisher.publish_event(withdrawal)
    wait_until(lambda: scheduling.get_registration("reg-enr-0041")["status"] == "registered",
               what="the next team placed")
    assert scheduling.get_registration("reg-enr-0040")["status"] == "cancelled"
    held = scheduling.get_workshop(single["workshop_id"])
    assert [r["registration_id"] for r in held["registrations"]
            if r["status"] == "registered"] == ["reg-enr-0041"]
    assert held["enterprises_registered"] == 1
    [cancelled] = wait_until(lambda: events_of(config, "registration_cancelled") or None,
                             what="registration_cancelled")
    assert cancelled["payload"]["reason"] == "withdrawn: the enterprise closed"


def test_a_reschedule_racing_with_registrations_leaves_no_team_with_the_old_days(
        calendar, publisher):
    """Every team ends up told the new days: by its own registration event, or by the
    reschedule event that lists it."""
    config, scheduling = calendar
    racing = scheduling.schedule_workshop(workshop(capacity_enterprises=10, capacity_seats=30))
    for n in range(50, 58):
        publisher.publish_event(accepted(n))
    new_days = [TUESDAY, "2027-03-24"]
    scheduling.reschedule_workshop(racing["workshop_id"], {"days": new_days,
                                                           "reason": "venue double-booked"})
    wait_until(lambda: all((scheduling.get_registration(f"reg-enr-{n:04d}") or {}).get(
        "status") == "registered" for n in range(50, 58)), what="all placed")
    events = [json.loads(m.body) for m in drain_queue(
        config["AMQP_URI"], f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event",
        timeout=1)]
    [rescheduled] = [e for e in events if e["event_type"] == "workshop_rescheduled"]
    told_by_reschedule = {r["registration_id"] for r in rescheduled["payload"]["registrations"]}
    for event in events:
        if event["event_type"] == "participant_registered":
            days = event["payload"]["workshop"]["days"]
            registration = event["payload"]["registration_id"]
            assert days == new_days or registration in told_by_reschedule, registration
    assert scheduling.get_workshop(racing["workshop_id"])["enterprises_registered"] == 8


def test_attendance_completes_the_workshop_and_decides_who_goes_on_to_coaching(
        container_factory, make_config, publisher):
    config = make_config("scheduling")
    today_container = container_factory(SchedulingService, config)
    today_container.start()
    with ClusterRpcProxy(config, timeout=30) as cluster:
        scheduling = cluster.scheduling
        scheduling.register_venue({"code": "blk", "name": "BLK", "province": "ID-BA",
                                   "district": "Denpasar", "capacity": 30})
        scheduling.register_trainer({"code": "made", "name": "Made", "partner_id": "bedo",
                                     "modules": [1], "provinces": ["ID-BA"]})
        held = scheduling.schedule_workshop({
            "module": 1, "venue_id": "ven-blk", "trainer_ids": ["trn-made"],
            "partner_id": "bedo", "capacity_enterprises": 5, "capacity_seats": 20,
            "days": [MONDAY, TUESDAY]})
        for n in (60, 61):
            publisher.publish_event(registry.build("enrollment_accepted", {
                **json.loads(json.dumps(accepted(n)["payload"])),
                "enterprise": {**accepted(n)["payload"]["enterprise"], "province": "ID-BA"}},
                producer="enrollment"))
        wait_until(lambda: scheduling.get_workshop(held["workshop_id"])[
            "enterprises_registered"] == 2, what="both teams placed")
        with pytest.raises(Refused) as refused:  # the workshop has not happened yet
            scheduling.record_attendance(held["workshop_id"], {"records": [
                {"participant_id": "p-60-0", "day": MONDAY, "status": "present"}]})
        assert "has not come yet" in refused.value.errors["records[0].day"][0]
    today_container.stop()

    # the same service, its clock run past the workshop (a rehearsal environment)
    ahead = (date.fromisoformat(TUESDAY) - date.today()).days + 1
    later = container_factory(SchedulingService, {**config, "SCORE_CLOCK_OFFSET_DAYS": ahead})
    later.start()
    with ClusterRpcProxy(config, timeout=30) as cluster:
        scheduling = cluster.scheduling
        with pytest.raises(Refused) as refused:
            scheduling.record_attendance(held["workshop_id"], {"records": [
                {"participant_id": "p-60-0", "day": MONDAY, "status": "present"},
                {"participant_id": "p-99-0", "day": MONDAY, "status": "present"},
                {"participant_id": "p-60-1", "day": "2027-03-24", "status": "present"}]})
        errors = refused.value.errors
        assert errors["records[1].participant_id"] == [
            f"p-99-0 is not registered in {held['workshop_id']}"]
        assert "not a day of this workshop" in errors["records[2].day"][0]
        assert "records[0].day" not in errors and "records[0].participant_id" not in errors
        with pytest.raises(Refused) as refused:
            scheduling.record_attendance(held["workshop_id"], {"records": [
                {"participant_id": "p-60-1", "day": MONDAY, "status": "asleep"}]})
        assert list(refused.value.errors) == ["records[0].status"]
        assert scheduling.get_workshop(held["workshop_id"])["attendance"] == {}  # all or none

        everyone_present = [{"participant_id": f"p-{n}-{i}", "day": day, "status": "present"}
                            for n in (60, 61) for i in (0, 1) for day in (MONDAY, TUESDAY)]
        first_day = [r for r in everyone_present if r["day"] == MONDAY]
        assert scheduling.record_attendance(held["workshop_id"], {
            "records": first_day})["status"] == "planned"
        second_day = [r if r["participant_id"] != "p-61-1" else {**r, "status": "absent"}
                      for r in everyone_present if r["day"] == TUESDAY]
        done = scheduling.record_attendance(held["workshop_id"], {"records": second_day})
        assert done["status"] == "completed"
        with pytest.raises(Refused) as refused:
            scheduling.reschedule_workshop(held["workshop_id"], {
                "days": ["2027-03-29", "2027-03-30"], "reason": "too late"})
        assert "is completed" in refused.value.errors["workshop_id"][0]
    [completed] = wait_until(lambda: events_of(config, "workshop_completed") or None,
                             what="workshop_completed")
    teams = {t["enrollment_id"]: t for t in completed["payload"]["teams"]}
    assert teams["enr-0060"]["qualified"] is True
    assert teams["enr-0061"]["qualified"] is False
    assert "no worker attended both days" in teams["enr-0061"]["reason"]
    assert f"absent on {TUESDAY}" in teams["enr-0061"]["reason"]
    assert teams["enr-0061"]["attendance"]["p-61-1"] == {MONDAY: "present", TUESDAY: "absent"}

    # the cohort (the one team that qualified) presents its results once its coaching ends
    results = {"kind": "results", "cohort_of": held["workshop_id"], "module": 1,
               "venue_id": "ven-blk", "trainer_ids": ["trn-made"], "partner_id": "bedo",
               "capacity_enterprises": 5, "capacity_seats": 20, "days": ["2027-06-07"]}
    with ClusterRpcProxy(config, timeout=30) as cluster:
        scheduling = cluster.scheduling
        assert scheduling.get_workshop(held["workshop_id"])["coaching"] == {
            "enr-0060": "active"}
        with pytest.raises(Refused) as refused:
            scheduling.schedule_workshop(results)
        assert "still in coaching (0 of 1 teams finished)" in \
            refused.value.errors["cohort_of"][0]
        publisher.publish_event(registry.build("coaching_completed", {
            **SAMPLE_COACHING_COMPLETED, "enrollment_id": "enr-0060",
            "workshop_id": held["workshop_id"]}, producer="coaching"))
        wait_until(lambda: scheduling.get_workshop(held["workshop_id"])["results_due"],
                   what="the cohort due its results workshop")
        presented = scheduling.schedule_workshop(results)
        assert presented["enterprises_registered"] == 1 and presented["days"] == ["2027-06-07"]
    events = []

    def announced():
        events.extend(all_events(config))  # draining takes them: keep what each call got
        return any(e["event_type"] == "workshop_scheduled" and e["payload"]["kind"] == "results"
                   for e in events) and any(e["event_type"] == "results_workshop_due"
                                            for e in events)

    wait_until(announced, what="the results workshop announced")
    [due] = [e for e in events if e["event_type"] == "results_workshop_due"]
    assert [t["enrollment_id"] for t in due["payload"]["teams"]] == ["enr-0060"]
    [invited] = [e["payload"] for e in events if e["event_type"] == "participant_registered"
                 and e["payload"]["workshop"]["workshop_id"] == presented["workshop_id"]]
    assert invited["registration_id"] == "reg-enr-0060-results"
    assert {p["participant_id"] for p in invited["participants"]} == {"p-60-0", "p-60-1"}


def test_calendars_show_local_times_and_follow_changes(calendar):
    _, scheduling = calendar
    kept = scheduling.schedule_workshop(workshop())
    moved = scheduling.schedule_workshop(workshop(venue_id="ven-blk-bekasi",
                                                  days=["2027-03-29", "2027-03-30"]))
    scheduling.reschedule_workshop(moved["workshop_id"], {
        "days": ["2027-03-31", "2027-04-01"], "reason": "the trainer asked"})
    dropped = scheduling.schedule_workshop(workshop(days=["2027-04-05", "2027-04-06"]))
    scheduling.cancel_workshop(dropped["workshop_id"], {"reason": "too few enterprises"})

    own = icalendar.Calendar.from_ical(scheduling.workshop_calendar(kept["workshop_id"]))
    [first, second] = sorted(own.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    start = first.decoded("dtstart")
    assert (start.hour, str(start.tzinfo)) == (8, "Asia/Jakarta")
    assert start.astimezone(timezone.utc).hour == 1
    assert str(first["summary"]).startswith("SCORE module 1: Workplace Cooperation (day 1 of 2)")
    assert "BLK Jakarta Timur" in str(first["location"])
    assert [tz["tzid"] for tz in own.walk("VTIMEZONE")] == ["Asia/Jakarta"]

    siti = icalendar.Calendar.from_ical(scheduling.trainer_calendar("trn-siti"))
    by_uid = {str(e["uid"]): e for e in siti.walk("VEVENT")}
    assert len(by_uid) == 6  # two days of each of three workshops
    rescheduled = by_uid[f"{moved['workshop_id']}-day1@score.ilo.org"]
    assert rescheduled.decoded("dtstart").date() == date(2027, 3, 31)
    assert int(rescheduled["sequence"]) == 1
    assert str(by_uid[f"{dropped['workshop_id']}-day1@score.ilo.org"]["status"]) == "CANCELLED"


def test_visits_and_workshops_never_double_book_a_trainer(calendar, publisher):
    config, scheduling = calendar

    def coaching_says(event_type, **changes):
        publisher.publish_event(registry.build(event_type, {
            **(SAMPLE_VISIT_SCHEDULED if event_type == "visit_scheduled"
               else SAMPLE_VISIT_CANCELLED), **changes}, producer="coaching"))

    bookings = pymongo.MongoClient(config["MONGODB_URI"])[config["MONGODB_DATABASE"]].bookings
    coaching_says("visit_scheduled", visit_id="vis-a", day="2027-03-29")
    wait_until(lambda: bookings.find_one({"_id": "trn-siti:2027-03-29"}),
               what="the visit's day booked")
    with pytest.raises(Refused) as refused:
        scheduling.schedule_workshop(workshop(days=["2027-03-29", "2027-03-30"]))
    assert refused.value.errors == {
        "trainer_ids[0]": ["trn-siti is already booked on 2027-03-29 (vis-a)"]}

    # who could take a visit instead: certified for module 1 in Jakarta, available, free
    for code, modules, away in (("dewi", [1], []), ("rudi", [1], [{
            "start": TUESDAY, "end": TUESDAY, "reason": "leave"}]), ("eko", [1], [])):
        scheduling.register_trainer({"code": code, "name": code.title(), "partner_id": "bedo",
                                     "modules": modules, "provinces": ["ID-JK"],
                                     "unavailable": away})
    taken = scheduling.schedule_workshop(workshop())  # Monday and Tuesday the 22nd-23rd
    scheduling.schedule_workshop(workshop(venue_id="ven-blk-bekasi", trainer_ids=["trn-eko"]))
    coaching_says("visit_scheduled", visit_id="vis-b", day=TUESDAY)
    [conflict] = wait_until(lambda: events_of(config, "visit_conflict") or None,
                            what="visit_conflict")
    assert conflict["payload"]["visit_id"] == "vis-b"
    assert conflict["payload"]["held_by"] == taken["workshop_id"]
    assert conflict["payload"]["free_trainers"] == ["trn-dewi"]

    coaching_says("visit_cancelled", visit_id="vis-a", day="2027-03-29")
    wait_until(lambda: bookings.find_one({"_id": "trn-siti:2027-03-29"}) is None,
               what="the visit's day freed")
    assert scheduling.schedule_workshop(workshop(days=["2027-03-29", "2027-03-30"]))[
        "status"] == "planned"


def test_calendars_are_served_over_http_and_a_trainers_needs_its_secret(start_service):
    config = start_service(SchedulingService)
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    with ClusterRpcProxy(config, timeout=30) as cluster:
        cluster.scheduling.register_venue({"code": "blk-jaktim", "name": "BLK", "capacity": 30,
                                           "province": "ID-JK", "district": "Jakarta Timur"})
        siti = cluster.scheduling.register_trainer({
            "code": "siti", "name": "Siti", "partner_id": "bedo", "modules": [1],
            "provinces": ["ID-JK"]})
        again = cluster.scheduling.register_trainer({
            "code": "siti", "name": "Siti", "partner_id": "bedo", "modules": [1],
            "provinces": ["ID-JK"]})
        held = cluster.scheduling.schedule_workshop(workshop())
    assert again["calendar_path"] == siti["calendar_path"]  # the address does not change
    own = requests.get(f"{base}/calendars/workshops/{held['workshop_id']}.ics", timeout=10)
    assert own.status_code == 200 and own.headers["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in own.content
    mine = requests.get(base + siti["calendar_path"], timeout=10)
    assert mine.status_code == 200 and held["workshop_id"].encode() in mine.content
    guessed = requests.get(f"{base}/calendars/trainers/trn-siti/guess.ics", timeout=10)
    assert guessed.status_code == 404
    assert requests.get(f"{base}/calendars/workshops/ws-none.ics", timeout=10).status_code \
        == 404
