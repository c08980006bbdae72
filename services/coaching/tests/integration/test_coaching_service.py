"""Coaching on the real broker and database: plans from completed workshops, moved visits."""
import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.scheduling import SAMPLE_WORKSHOP_COMPLETED
from score_common.errors import Refused
from score_common.indonesia import is_working_day
from score_common.testing import drain_queue, wait_until
from score_coaching.service import CoachingService


def test_coaching_answers_health_and_queries(start_service):
    config = start_service(CoachingService)
    with ClusterRpcProxy(config) as cluster:
        report = cluster.coaching.health()
        assert report["status"] == "ok" and report["service"] == "coaching"
        assert cluster.coaching.get_visit_plan("no-such-plan") is None
    metrics = requests.get(f"http://{config['WEB_SERVER_ADDRESS']}/metrics", timeout=10)
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert 'score_messages_handled_total{entrypoint="health",outcome="ok",service="coaching"}' \
        in metrics.text
    assert 'score_outbox_pending{service="coaching"} 0' in metrics.text
    assert 'score_outbox_lag_seconds{service="coaching"}' in metrics.text


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


def record(visit, **changes):
    day = visit["day"]
    return {"check_in": f"{day}T02:00:00+00:00", "check_out": f"{day}T05:30:00+00:00",
            "attendees": [{"name": "Budi Santoso", "role": "manager"},
                          {"name": "Siti Rahayu", "role": "worker"}],
            "findings": ["scrap bins overflow at line 2"],
            "trainer_signed": True, "acknowledged_by": {"name": "Budi Santoso"}, **changes}


def test_visits_are_recorded_in_order_and_the_final_one_reports_every_indicator(
        start_service, publisher):
    # the service's clock is past the visits (2027), as in a rehearsal
    config = start_service(CoachingService, SCORE_CLOCK_OFFSET_DAYS=400)
    publisher.publish_event(completed_workshop())
    with ClusterRpcProxy(config) as cluster:
        coaching = cluster.coaching
        plan = wait_until(lambda: coaching.get_visit_plan("plan-enr-0001"), what="the plan")
        first, second, final = plan["visits"]

        def refused(visit, command, trainer="trn-siti"):
            try:
                coaching.record_visit(visit["visit_id"], command, trainer)
            except Refused as exc:
                return exc.errors
            raise AssertionError("the record was taken")

        assert "not recorded yet" in refused(second, record(second))["visit_id"][0]
        assert refused(first, record(first), trainer="trn-agus") == {
            "trainer_id": [f"{first['visit_id']} is trn-siti's visit, not trn-agus's"]}
        errors = refused(first, record(first, measurements={"happiness": 9,
                                                            "defect_rate": 140}))
        assert "unknown indicator 'happiness'" in errors["measurements.happiness"][0]
        assert "out of range" in errors["measurements.defect_rate"][0]
        assert refused(first, record(first, trainer_signed=False))["trainer_signed"]
        assert "must be after" in refused(first, record(
            first, check_out=f"{first['day']}T01:00:00+00:00"))["check_out"][0]

        taken = coaching.record_visit(first["visit_id"], record(first, actions=[
            {"description": "5S in the paint shop", "owner": "Budi", "due": first["day"]},
            {"description": "daily line meeting", "owner": "Siti", "due": first["day"]}],
            measurements={"defect_rate": 7.5}), "trn-siti")
        assert taken["visits"][0]["status"] == "done"
        assert refused(first, record(first))["visit_id"] == [
            f"{first['visit_id']} is already recorded"]
        assert "not an open action" in refused(second, record(
            second, actions_done=["vis-nope-a1"]))["actions_done[0]"][0]
        coaching.record_visit(second["visit_id"], record(
            second, actions_done=[f"{first['visit_id']}-a1"]), "trn-siti")

        assert "needs a baseline" in refused(final, record(final))["baseline"][0]
        coaching.record_baseline("plan-enr-0001", {"measured_on": "2027-03-24", "measurements": {
            "defect_rate": 8.0, "productivity": 40, "absenteeism": 6}})
        assert "missing" in refused(final, record(final, measurements={"defect_rate": 5.0}))[
            "measurements.productivity"][0]
        done = coaching.record_visit(final["visit_id"], record(final, measurements={
            "defect_rate": 5.0, "productivity": 260, "absenteeism": 6}), "trn-siti")
        assert done["status"] == "completed"

    reporting = f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    [outcome] = wait_until(lambda: [e for e in (json.loads(m.body) for m in drain_queue(
        config["AMQP_URI"], reporting)) if e["event_type"] == "coaching_completed"] or None,
        what="coaching_completed")
    kpis = {k["kpi"]: k for k in outcome["payload"]["kpis"]}
    assert kpis["defect_rate"]["improvement"] == pytest.approx(0.375)
    assert kpis["defect_rate"]["improved"] is True and kpis["defect_rate"]["flag"] is None
    assert kpis["absenteeism"]["improved"] is False
    assert "checked before it counts" in kpis["productivity"]["flag"]  # 40 -> 260
    actions = {a["description"]: a["done"] for a in outcome["payload"]["actions"]}
    assert actions == {"5S in the paint shop": True, "daily line meeting": False}


def test_a_visit_whose_day_passed_without_a_record_is_announced_once(start_service, publisher):
    # the clock stands between the first and the second visit of the plan
    first_visit_day = date(2027, 4, 13)
    ahead = (first_visit_day - date.today()).days + 10
    config = start_service(CoachingService, SCORE_CLOCK_OFFSET_DAYS=ahead)
    publisher.publish_event(completed_workshop())
    with ClusterRpcProxy(config) as cluster:
        plan = wait_until(lambda: cluster.coaching.get_visit_plan("plan-enr-0001"),
                          what="the plan")
        assert cluster.coaching.check_overdue_visits() == 1
        assert cluster.coaching.check_overdue_visits() == 0  # announced once
    reporting = f"{config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    [overdue] = wait_until(lambda: [e for e in (json.loads(m.body) for m in drain_queue(
        config["AMQP_URI"], reporting)) if e["event_type"] == "visit_overdue"] or None,
        what="visit_overdue")
    assert overdue["payload"]["visit_id"] == plan["visits"][0]["visit_id"]
    assert overdue["payload"]["trainer_id"] == "trn-siti"
    today_in_jakarta = (datetime.now(timezone.utc) + timedelta(days=ahead)).astimezone(
        ZoneInfo("Asia/Jakarta")).date()
    assert overdue["payload"]["days_overdue"] == (
        today_in_jakarta - date.fromisoformat(plan["visits"][0]["day"])).days
