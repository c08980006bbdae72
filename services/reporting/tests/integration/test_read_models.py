"""Reporting on the real broker and database: records and cohorts folded from events in any
order, the enterprise report written once the coaching ends, indicators and exports over
HTTP, and a rebuild that gives back exactly what was built live."""
import io
import json
import random

import requests
from nameko.standalone.rpc import ClusterRpcProxy
from openpyxl import load_workbook

from score_common.errors import Refused
from score_common.testing import drain_queue, handled, wait_until
from score_reporting import samples
from score_reporting.service import ReportingService


def test_a_journey_in_any_order_gives_one_record_one_report_and_a_rebuild_gives_the_same(
        start_service, publisher):
    config = start_service(ReportingService)
    first = samples.journey(1)
    second = samples.journey(2, sector="garments_textiles", coached=False)
    coaching_completed = first[-1]
    # the end of the story first: no report can be written without the enrollment
    publisher.publish_event(coaching_completed)
    wait_until(lambda: handled(config, "reporting.handle_platform_event",
                               coaching_completed["event_id"]), what="the early event seen")
    rest = first[:-1] + second
    random.Random(3).shuffle(rest)
    for envelope in rest + rest[:3]:  # and some delivered twice
        publisher.publish_event(envelope)

    base = f"http://{config['WEB_SERVER_ADDRESS']}/reporting"
    with ClusterRpcProxy(config) as cluster:
        reporting = cluster.reporting
        record = wait_until(lambda: (lambda r: r if len(r["timeline"]) == 5 else None)(
            reporting.enterprise_record("enr-00001")), what="the report noted on the record")
        assert [e["kind"] for e in record["timeline"]] == [
            "enrolled", "registered", "trained", "coached", "reported"]
        assert record["stage"] == "reported"
        content = reporting.enterprise_report("rep-enr-00001")
        assert content["enterprise"]["name"] == "PT Contoh 1"
        assert {k["kpi"] for k in content["kpis"]} >= {"productivity", "cost_saving"}
        assert reporting.cohort_progress("ws-1")["progress"] == {
            "registered": 2, "qualified": 2, "coaching_completed": 1}

        found = requests.get(f"{base}/indicators", timeout=10).json()
        assert found["enterprises"] == {"enrolled": 2, "reached": 2, "coached": 1,
                                        "reported": 1}
        assert found["workers_reached"]["total"] == 250
        garments = requests.get(f"{base}/indicators", params={"sector": "garments_textiles"},
                                timeout=10).json()
        assert garments["enterprises"]["reached"] == 1 and garments["enterprises"]["coached"] == 0
        assert requests.get(f"{base}/indicators", params={"module": "x"},
                            timeout=10).status_code == 400
        csv_text = requests.get(f"{base}/indicators.csv", timeout=10).text
        assert "Enterprises reached (trained),2" in csv_text
        book = load_workbook(io.BytesIO(requests.get(f"{base}/indicators.xlsx",
                                                     timeout=10).content))
        assert book["Training activities"].max_row == 2  # header and the one workshop
        for language in ("id", "en"):
            pdf = requests.get(f"{base}/reports/rep-enr-00001.pdf", params={"lang": language},
                               timeout=10)
            assert pdf.headers["Content-Type"] == "application/pdf"
            assert pdf.content.startswith(b"%PDF")
        assert requests.get(f"{base}/reports/rep-enr-00002.pdf", timeout=10).status_code == 404

        # a training activity other than a workshop, recorded by staff, counts too
        try:
            reporting.record_training_activity({"title": "x", "kind": "party", "day": "soon",
                                                "organiser": "ilo", "attended_women": -1,
                                                "attended_men": 3})
            raise AssertionError("a bad activity was taken")
        except Refused as refused:
            assert set(refused.errors) == {"title", "kind", "day", "attended_women"}
        reporting.record_training_activity({
            "activity_id": "act-gender-2019", "title": "SCORE Gender Training for Trade Union",
            "kind": "gender_training", "day": "2026-02-10", "organiser": "ilo",
            "attended_women": 18, "attended_men": 12})
        activities = requests.get(f"{base}/indicators", timeout=10).json()["activities"]
        assert activities["total"] == 2 and activities["share_run_by_partners"] == 0.5
        assert activities["attendance"]["women"] >= 18

        live = reporting.read_models()
        rebuilt = reporting.rebuild()
        assert rebuilt["events"] == len(first) + len(second) + 1  # and report_ready
        assert reporting.read_models() == live

    # the enterprise's managers are told, through notifications
    ready = f"{config['SCORE_NAMESPACE']}.notifications.handle_report_ready"
    [told] = wait_until(lambda: [json.loads(m.body)["payload"] for m in drain_queue(
        config["AMQP_URI"], ready)] or None, what="report_ready")
    assert told["url"].endswith("/reporting/reports/rep-enr-00001.pdf")
    assert [r["role"] for r in told["recipients"]] == ["manager"]
