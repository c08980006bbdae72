"""Read models as folds, indicators and exports, free of servers."""
import csv
import io
import random

from openpyxl import load_workbook

from score_common.contracts import registry
from score_common.contracts.coaching import SAMPLE_COACHING_COMPLETED, SAMPLE_VISIT_SCHEDULED
from score_common.contracts.enrollment import (
    SAMPLE_ENROLLMENT_ACCEPTED, SAMPLE_ENROLLMENT_STATUS_CHANGED,
)
from score_common.contracts.scheduling import (
    SAMPLE_PARTICIPANT_REGISTERED, SAMPLE_WORKSHOP_COMPLETED, SAMPLE_WORKSHOP_SCHEDULED,
)
from score_reporting import indicators, projections, report
from score_reporting.store import json_form

WS = SAMPLE_WORKSHOP_COMPLETED["workshop_id"]


def folded(event_type, payload, producer, at):
    envelope = registry.build(event_type, payload, producer=producer)
    return {"event_id": envelope["event_id"], "event_type": event_type,
            "occurred_at": at, "payload": json_form(registry.decode(envelope).payload)}


def journey(n="0001", sector="automotive_parts", productivity=(40.0, 52.0)):
    """The events of one enterprise's way through module 1, in time order."""
    enr, ent = f"enr-{n}", f"ent-{n}"
    team = SAMPLE_WORKSHOP_COMPLETED["teams"][0]
    kpis = [{**SAMPLE_COACHING_COMPLETED["kpis"][0]},
            {"kpi": "productivity", "name": "Productivity", "unit": "units per worker-hour",
             "better": "higher", "baseline": productivity[0], "final": productivity[1],
             "improvement": (productivity[1] - productivity[0]) / productivity[0],
             "improved": productivity[1] > productivity[0], "flag": None}]
    return [
        folded("enrollment_accepted", {**SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": enr,
                                       "enterprise": {**SAMPLE_ENROLLMENT_ACCEPTED["enterprise"],
                                                      "enterprise_id": ent, "sector": sector}},
               "enrollment", "2027-01-15T02:30:00+00:00"),
        folded("workshop_scheduled", {**SAMPLE_WORKSHOP_SCHEDULED, "workshop_id": WS},
               "scheduling", "2027-01-16T00:00:00+00:00"),
        folded("participant_registered", {**SAMPLE_PARTICIPANT_REGISTERED, "enrollment_id": enr,
                                          "enterprise_id": ent, "registration_id": f"reg-{enr}",
                                          "workshop": {**SAMPLE_PARTICIPANT_REGISTERED[
                                              "workshop"], "workshop_id": WS}},
               "scheduling", "2027-01-16T01:00:00+00:00"),
        folded("workshop_completed", {**SAMPLE_WORKSHOP_COMPLETED, "teams": [
            {**team, "enrollment_id": enr, "enterprise_id": ent,
             "registration_id": f"reg-{enr}"}]}, "scheduling", "2027-03-23T10:00:00+00:00"),
        folded("visit_scheduled", {**SAMPLE_VISIT_SCHEDULED, "enrollment_id": enr,
                                   "enterprise_id": ent, "visit_id": f"vis-{enr}-1"},
               "coaching", "2027-03-23T10:00:01+00:00"),
        folded("coaching_completed", {**SAMPLE_COACHING_COMPLETED, "enrollment_id": enr,
                                      "enterprise_id": ent, "plan_id": f"plan-{enr}",
                                      "workshop_id": WS, "kpis": kpis},
               "coaching", "2027-06-01T08:00:00+00:00"),
    ]


def test_an_enterprise_record_is_the_same_whatever_order_its_events_arrive_in():
    events = journey()
    in_order = projections.enterprise("enr-0001", events)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    assert projections.enterprise("enr-0001", shuffled + shuffled[:2]) == in_order
    assert in_order["stage"] == "coached"
    assert [entry["kind"] for entry in in_order["timeline"]] == [
        "enrolled", "registered", "trained", "coached"]
    assert in_order["visits"]["vis-enr-0001-1"]["status"] == "planned"


def test_a_withdrawal_later_than_training_ends_the_enterprises_way():
    events = journey()[:4] + [folded("enrollment_status_changed", {
        **SAMPLE_ENROLLMENT_STATUS_CHANGED, "enrollment_id": "enr-0001"}, "enrollment",
        "2027-04-01T00:00:00+00:00")]
    assert projections.enterprise("enr-0001", events)["stage"] == "withdrawn"


def test_events_name_the_entities_they_are_about():
    events = {e["event_type"]: e for e in journey()}
    assert projections.entities("participant_registered",
                                events["participant_registered"]["payload"]) == [
        "enr:enr-0001", f"ws:{WS}"]
    assert projections.entities("visit_cancelled", {"visit_id": "vis-enr-0009-2"}) == [
        "enr:enr-0009"]
    assert projections.entities("workshop_completed",
                                events["workshop_completed"]["payload"]) == [
        f"ws:{WS}", "enr:enr-0001"]


def test_a_cohort_counts_attendance_by_sex_and_its_progress():
    events = [e for n in ("0001", "0002") for e in journey(n)
              if e["event_type"] in ("workshop_scheduled", "participant_registered",
                                     "coaching_completed")]
    events.append(folded("workshop_completed", {**SAMPLE_WORKSHOP_COMPLETED, "teams": [
        {**SAMPLE_WORKSHOP_COMPLETED["teams"][0], "enrollment_id": f"enr-{n}",
         "enterprise_id": f"ent-{n}"} for n in ("0001", "0002")]}, "scheduling",
        "2027-03-23T10:00:00+00:00"))
    state = projections.cohort(WS, events)
    assert state["status"] == "completed"
    assert state["attendance"] == {"women": 0, "men": 2, "days": ["2027-03-22", "2027-03-23"]}
    assert state["progress"] == {"registered": 2, "qualified": 2, "coaching_completed": 2}


def programme(**filters):
    enterprises = [projections.enterprise(f"enr-{n}", journey(n, sector, kpi))
                   for n, sector, kpi in (("0001", "automotive_parts", (40.0, 52.0)),
                                          ("0002", "garments", (40.0, 30.0)))]
    cohort = projections.cohort(WS, [e for e in journey() if e["event_type"] in (
        "workshop_scheduled", "workshop_completed")])
    return indicators.programme(enterprises, [cohort], indicators.Filters.of(filters))


def test_indicators_as_the_seeds_report_them_and_filtered():
    found = programme()
    # both enrollments are of one enterprise (ent-0001 and ent-0002 differ: two reached)
    assert found["enterprises"]["reached"] == 2
    assert found["workers_reached"] == {"women": 80, "men": 170, "total": 250}
    assert found["higher_productivity"] == {"measured": 2, "improved": 1, "share": 0.5}
    assert found["activities"]["total"] == 1 and found["activities"]["share_run_by_partners"] == 1
    assert programme(sector="garments")["enterprises"]["reached"] == 1
    assert programme(module="2")["enterprises"]["reached"] == 0
    assert programme(period_from="2027-04-01")["enterprises"]["reached"] == 0


def test_exports_carry_the_same_figures():
    found = programme()
    rows = list(csv.reader(io.StringIO(indicators.to_csv(found))))
    assert ["Share reporting higher productivity", "0.5"] in rows
    book = load_workbook(io.BytesIO(indicators.to_xlsx(found)))
    assert book.sheetnames == ["Indicators", "Reach", "Training activities"]
    values = {row[0]: row[1] for row in book["Indicators"].iter_rows(values_only=True)}
    assert values["Workers reached, women"] == 80


def test_the_report_shows_what_was_not_measured_and_renders_in_both_languages():
    state = projections.enterprise("enr-0001", journey())
    content = report.content(state)
    missing = {k["kpi"] for k in content["kpis"] if k.get("missing")}
    assert missing == {"cost_saving", "absenteeism"}  # headline indicators never measured
    assert content["enterprise"]["name"] == "PT Tjokro Bersaudara"
    for language in ("id", "en"):
        document = report.pdf(content, language)
        assert document.startswith(b"%PDF") and len(document) > 2000
    # an enterprise heard of only through its coaching still gets a report, marked unknown
    bare = report.content(projections.enterprise("enr-0001", journey()[-1:]))
    assert report.pdf(bare, "en").startswith(b"%PDF")
