"""Coaching on the real broker and database: plans from completed workshops, moved visits."""
import json
from datetime import date

from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.scheduling import SAMPLE_WORKSHOP_COMPLETED
from score_common.indonesia import is_working_day
from score_common.testing import drain_queue, wait_until
from score_coaching.service import CoachingService


def test_coaching_answers_health_and_queries(start_service):
    config = start_service(CoachingService)
    with ClusterRpcProxy(config) as cluster:
        report = cluster.coaching.health()
        assert report["status"] == "ok" and report["service"] == "coaching"
        assert cluster.coaching.get_visit_plan("no-such-plan") is None


def completed_workshop():
    team = SAMPLE_WORKSHOP_COMPLETED["teams"][0]
    return registry.build("workshop_completed", {**SAMPLE_WORKSHOP_COMPLETED, "teams": [
        team, {**team, "enrollment_id": "enr-0002", "registration_id": "reg-enr-0002",
               "enterprise_id": "ent-0002", "qualified": False,
               "reason": "no worker attended both days"}]}, producer="scheduling")


def test_a_qualified_team_gets_visits_on_working_days_and_a_conflict_moves_one(
        start_service, publisher):
    config = start_service(CoachingService)
    completed = completed_workshop()
    publisher.publish_event(completed)
    publisher.publish_event(completed)  # a redelivery plans nothing twice
    with ClusterRpcProxy(config) as cluster:
        plan = wait_until(lambda: cluster.coaching.get_visit_plan("plan-enr-0001"),
                          what="the visit plan")
        assert cluster.coaching.get_visit_plan("plan-enr-0002") is None  # did not qualify
    days = [date.fromisoformat(v["day"]) for v in plan["visits"]]
    assert len(days) == 3 and all(is_working_day(d) for d in days)
    assert days[0] >= date(2027, 4, 13) and days == sorted(days)  # weeks after 23 March
    assert plan["trainer_id"] == "trn-siti"

    bookings = f"{config['SCORE_NAMESPACE']}.scheduling.handle_visit_scheduled"
    asked = wait_until(lambda: (lambda found: found if len(found) >= 3 else None)(
        [json.loads(m.body)["payload"] for m in drain_queue(config["AMQP_URI"], bookings)]),
        what="visit_scheduled for scheduling to book")
    assert sorted(v["day"] for v in asked) == [d.isoformat() for d in days]
    assert {v["of"] for v in asked} == {3}

    first = plan["visits"][0]
    conflict = registry.build("visit_conflict", {
        "visit_id": first["visit_id"], "trainer_id": "trn-siti", "day": first["day"],
        "held_by": "ws-other", "reason": "trn-siti is already booked"}, producer="scheduling")
    publisher.publish_event(conflict)
    publisher.publish_event(conflict)
    with ClusterRpcProxy(config) as cluster:
        moved = wait_until(lambda: (lambda p: p if p["visits"][0]["day"] != first["day"]
                                    else None)(cluster.coaching.get_visit_plan("plan-enr-0001")),
                           what="the visit moved")
    new_day = date.fromisoformat(moved["visits"][0]["day"])
    assert new_day > date.fromisoformat(first["day"]) and is_working_day(new_day)
    assert len(moved["visits"][0]["moves"]) == 1  # the repeated conflict moved it once
    frees = f"{config['SCORE_NAMESPACE']}.scheduling.handle_visit_cancelled"
    [freed] = wait_until(lambda: [json.loads(m.body)["payload"] for m in drain_queue(
        config["AMQP_URI"], frees)] or None, what="visit_cancelled")
    assert freed["day"] == first["day"]
    rebooked = wait_until(lambda: [json.loads(m.body)["payload"] for m in drain_queue(
        config["AMQP_URI"], bookings)] or None, what="the new day asked for")
    assert [v["day"] for v in rebooked] == [new_day.isoformat()]
