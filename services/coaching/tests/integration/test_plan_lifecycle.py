"""A visit plan's life on the real broker and database: drafted when a team is placed, moved
with its workshop, activated when the team qualifies (at its programme's rhythm), handed to
another trainer or moved on a conflict, and stopped when the enrollment is withdrawn."""
import json
from datetime import date, timedelta

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.scheduling import (
    SAMPLE_PARTICIPANT_REGISTERED, SAMPLE_WORKSHOP_CANCELLED, SAMPLE_WORKSHOP_COMPLETED,
    SAMPLE_WORKSHOP_RESCHEDULED,
)
from score_common.errors import Refused
from score_common.testing import drain_queue, handled, wait_until
from score_coaching.domain import plan_visits
from score_coaching.service import CoachingService

WS = SAMPLE_WORKSHOP_COMPLETED["workshop_id"]
TEAM = SAMPLE_WORKSHOP_COMPLETED["teams"][0]


def team(n: str, **changes) -> dict:
    return {**TEAM, "registration_id": f"reg-enr-{n}", "enrollment_id": f"enr-{n}",
            "enterprise_id": f"ent-{n}", **changes}


def registered(n: str, **workshop):
    return registry.build("participant_registered", {
        **SAMPLE_PARTICIPANT_REGISTERED, **{k: v for k, v in team(n).items() if k in (
            "registration_id", "enrollment_id", "enterprise_id")},
        "workshop": {**SAMPLE_PARTICIPANT_REGISTERED["workshop"], "workshop_id": WS,
                     **workshop}}, producer="scheduling")


def completed(teams, **changes):
    return registry.build("workshop_completed", {**SAMPLE_WORKSHOP_COMPLETED, "teams": teams,
                                                 **changes}, producer="scheduling")


def plan_of(cluster, n: str, when=lambda plan: True, what="the plan"):
    return wait_until(lambda: (lambda p: p if p and when(p) else None)(
        cluster.coaching.get_visit_plan(f"plan-enr-{n}")), what=what)


def payloads(config, handler: str) -> list[dict]:
    return [json.loads(m.body)["payload"] for m in drain_queue(
        config["AMQP_URI"], f"{config['SCORE_NAMESPACE']}.{handler}")]


def days_of(plan) -> list[str]:
    return [visit["day"] for visit in plan["visits"]]


def iso(days) -> list[str]:
    return [day.isoformat() for day in days]


def test_a_draft_follows_its_workshop_and_becomes_the_plan_of_a_team_that_qualifies(
        start_service, publisher):
    config = start_service(CoachingService)
    for n in ("0001", "0002", "0003"):
        publisher.publish_event(registered(n))
    with ClusterRpcProxy(config) as cluster:
        drafts = [plan_of(cluster, n) for n in ("0001", "0002", "0003")]
        assert {d["status"] for d in drafts} == {"provisional"}
        assert days_of(drafts[0]) == iso(plan_visits(date(2027, 3, 23)))
        assert {v["trainer_id"] for v in drafts[0]["visits"]} == {None}

        moved = registry.build("workshop_rescheduled", {
            **SAMPLE_WORKSHOP_RESCHEDULED, "registrations": [
                {k: v for k, v in team(n).items() if k in (
                    "registration_id", "enrollment_id", "enterprise_id", "partner_id",
                    "participants")} for n in ("0001", "0002", "0003")]},
            producer="scheduling")
        publisher.publish_event(moved)
        after_move = iso(plan_visits(date(2027, 3, 30)))
        for n in ("0001", "0002", "0003"):
            plan_of(cluster, n, lambda p: days_of(p) == after_move, "the draft moved")

        # older news (the placement, before the move) arriving late changes nothing
        stale = registered("0001")
        publisher.publish_event(stale)
        wait_until(lambda: handled(config, "coaching.handle_participant_registered",
                                   stale["event_id"]), what="the stale placement seen")
        assert days_of(cluster.coaching.get_visit_plan("plan-enr-0001")) == after_move

        publisher.publish_event(completed(
            [team("0001"), team("0002"),
             team("0003", qualified=False, reason="no worker attended both days")],
            days=["2027-03-29", "2027-03-30"], trainer_ids=["trn-siti", "trn-agus"]))
        first = plan_of(cluster, "0001", lambda p: p["status"] == "active", "activation")
        second = plan_of(cluster, "0002", lambda p: p["status"] == "active", "activation")
        third = plan_of(cluster, "0003", lambda p: p["status"] != "provisional", "closing")
    # the workshop's trainers share its teams
    assert (first["trainer_id"], second["trainer_id"]) == ("trn-siti", "trn-agus")
    assert {v["trainer_id"] for v in second["visits"]} == {"trn-agus"}
    assert days_of(first) == after_move
    assert third["status"] == "not_qualified"
    assert third["history"][-1]["reason"] == "no worker attended both days"

    asked = wait_until(lambda: (lambda found: found if len(found) >= 6 else None)(
        payloads(config, "scheduling.handle_visit_scheduled")), what="six visits to book")
    assert len(asked) == 6  # only the activated plans book trainers' days, once each
    assert sorted({v["day"] for v in asked}) == after_move
    assert {v["timezone"] for v in asked} == {"Asia/Jakarta"}
    assert all(v["participants"][0]["email"] == "budi@example.co.id" for v in asked)


def test_a_cancelled_workshop_cancels_its_drafts_and_a_new_placement_drafts_again(
        start_service, publisher):
    config = start_service(CoachingService)
    publisher.publish_event(registered("0001"))
    with ClusterRpcProxy(config) as cluster:
        plan_of(cluster, "0001")
        publisher.publish_event(registry.build("workshop_cancelled", {
            **SAMPLE_WORKSHOP_CANCELLED, "registrations": [
                {k: v for k, v in team("0001").items() if k in (
                    "registration_id", "enrollment_id", "enterprise_id", "partner_id",
                    "participants")}]}, producer="scheduling"))
        cancelled = plan_of(cluster, "0001", lambda p: p["status"] == "cancelled",
                            "the draft cancelled")
        assert "the trainer is ill" in cancelled["history"][-1]["reason"]
        publisher.publish_event(registered(
            "0001", workshop_id="ws-later", days=["2027-05-17", "2027-05-18"]))
        again = plan_of(cluster, "0001", lambda p: p["status"] == "provisional",
                        "the new draft")
    assert again["workshop_id"] == "ws-later"
    assert days_of(again) == iso(plan_visits(date(2027, 5, 18)))


def test_visits_follow_the_rhythm_staff_set_for_a_programme(start_service, publisher):
    config = start_service(CoachingService)
    with ClusterRpcProxy(config) as cluster:
        coaching = cluster.coaching
        with pytest.raises(Refused) as refused:
            coaching.set_visit_rhythm({"programme": "score-max", "module": 7, "visits": 0,
                                       "weeks": 2})
        assert set(refused.value.errors) == {"programme", "module", "visits"}
        coaching.set_visit_rhythm({"programme": "scorelike", "module": 0, "visits": 2,
                                   "weeks": 1})
        table = {(r["programme"], r["module"]): (r["visits"], r["weeks"])
                 for r in coaching.visit_rhythms()}
        assert table[("scorelike", 3)] == (2, 1)      # staff's setting
        assert table[("score-hoco", 1)] == (4, 2)     # the built-in table
        assert table[("score", 3)] == (3, 4)
        assert table[("score-plus", 2)] == (3, 3)     # a variant without its own: SCORE's

        publisher.publish_event(completed([team("0001")], programme="scorelike"))
        publisher.publish_event(completed([team("0002")], programme="score-hoco",
                                          workshop_id="ws-hoco"))
        micro = plan_of(cluster, "0001")
        hotel = plan_of(cluster, "0002")
    last_day = date(2027, 3, 23)
    assert days_of(micro) == iso(plan_visits(last_day, 2, timedelta(weeks=1)))
    assert days_of(hotel) == iso(plan_visits(last_day, 4, timedelta(weeks=2)))


def record(visit):
    day = visit["day"]
    return {"check_in": f"{day}T02:00:00+00:00", "check_out": f"{day}T05:30:00+00:00",
            "attendees": [{"name": "Budi Santoso", "role": "manager"}],
            "trainer_signed": True, "acknowledged_by": {"name": "Budi Santoso"}}


def test_a_busy_trainer_hands_a_visit_to_a_co_trainer_and_a_withdrawal_stops_the_plan(
        start_service, publisher):
    config = start_service(CoachingService, SCORE_CLOCK_OFFSET_DAYS=400)
    publisher.publish_event(completed([team("0001")], trainer_ids=["trn-siti", "trn-agus"]))
    with ClusterRpcProxy(config) as cluster:
        coaching = cluster.coaching
        plan = plan_of(cluster, "0001")
        first, second, third = plan["visits"]

        def conflict(visit, free):
            publisher.publish_event(registry.build("visit_conflict", {
                "visit_id": visit["visit_id"], "trainer_id": "trn-siti", "day": visit["day"],
                "held_by": "ws-other", "reason": "trn-siti teaches that day",
                "free_trainers": free}, producer="scheduling"))

        conflict(first, ["trn-dewi", "trn-agus"])  # agus taught the workshop with siti
        conflict(second, ["trn-dewi"])  # dewi never met the team: the visit moves instead
        plan = plan_of(cluster, "0001", lambda p: p["visits"][0]["trainer_id"] == "trn-agus"
                       and p["visits"][1]["day"] != second["day"], "both conflicts resolved")
        assert plan["visits"][0]["day"] == first["day"]
        assert plan["visits"][0]["handovers"][0]["from"] == "trn-siti"
        assert plan["visits"][1]["trainer_id"] == "trn-siti"
        assert len(plan["visits"][1]["moves"]) == 1

        with pytest.raises(Refused) as refused:
            coaching.record_visit(first["visit_id"], record(first), "trn-siti")
        assert refused.value.errors == {
            "trainer_id": [f"{first['visit_id']} is trn-agus's visit, not trn-siti's"]}
        coaching.record_visit(first["visit_id"], record(first), "trn-agus")

        publisher.publish_event(registry.build("registration_cancelled", {
            "registration_id": "reg-enr-0001", "enrollment_id": "enr-0001",
            "enterprise_id": "ent-0001", "partner_id": "bedo", "workshop_id": WS,
            "reason": "withdrawn: the enterprise closed"}, producer="scheduling"))
        stopped = plan_of(cluster, "0001", lambda p: p["status"] == "withdrawn", "withdrawal")
        assert [v["status"] for v in stopped["visits"]] == ["done", "cancelled", "cancelled"]
        moved_second = plan["visits"][1]
        with pytest.raises(Refused) as refused:
            coaching.record_visit(moved_second["visit_id"], record(moved_second), "trn-siti")
        assert "withdrawn plan" in refused.value.errors["visit_id"][0]

    freed = wait_until(lambda: (lambda found: found if len(found) >= 4 else None)(
        payloads(config, "scheduling.handle_visit_cancelled")), what="the days given back")
    # the handover and the move each free a day; the withdrawal frees the two visits left
    assert sorted((f["trainer_id"], f["day"]) for f in freed) == sorted([
        ("trn-siti", first["day"]), ("trn-siti", second["day"]),
        ("trn-siti", moved_second["day"]), ("trn-siti", third["day"])])
