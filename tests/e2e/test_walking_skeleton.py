"""The whole system as separate processes: a partner's message in, through all five services.

Each service runs as `score-service <name>` (the same command as `make run` and the
containers), in this test's own namespace and databases.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pymongo
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.config import SERVICES
from score_common.testing import wait_until
from score_enrollment.examples import valid_submission
from score_enrollment.partner_admin import provision_partner
from score_enrollment.partner_client import submit_file
from score_scheduling.demo import ensure_workshop_for

pytestmark = pytest.mark.e2e


def health(address):
    try:
        with urllib.request.urlopen(f"http://{address}/health", timeout=2) as response:
            return json.loads(response.read())
    except Exception:  # noqa: BLE001
        return None


@pytest.fixture
def system(environment, tmp_path):
    command = shutil.which("score-service") or str(Path(sys.executable).parent / "score-service")
    processes, envs = {}, {}
    for service in SERVICES:
        envs[service] = environment(service, SCORE_LOG_FORMAT="json")
        processes[service] = subprocess.Popen(
            [command, service], env={**os.environ, **envs[service]},
            stdout=open(tmp_path / f"{service}.log", "wb"), stderr=subprocess.STDOUT)
    try:
        for service in SERVICES:
            wait_until(lambda: (health(envs[service]["SCORE_HTTP_ADDRESS"]) or {}).get("status")
                       == "ok", timeout=60, what=f"{service} healthy")
        yield envs, tmp_path
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def database(env):
    uri = env["MONGODB_URI"]
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[urlsplit(uri).path.lstrip("/")]


def test_a_partner_enrollment_reaches_every_service(system, servers):
    envs, logs = system
    message_id = f"e2e-{uuid.uuid4()}"
    namespace = envs["enrollment"]["SCORE_NAMESPACE"]
    code = f"bedo-{uuid.uuid4().hex[:8]}"
    partner = provision_partner(envs["enrollment"]["AMQP_URI"], servers.management_url, code,
                                "BEDO", "foundation", namespace=namespace)
    document = valid_submission()  # the sample with a period ahead of today
    # staff put a workshop for this partner, module and province on the calendar first
    with ClusterRpcProxy({"AMQP_URI": envs["scheduling"]["AMQP_URI"]}, timeout=30) as cluster:
        workshop = ensure_workshop_for(cluster, code, document)
    sample = logs / "submission.json"
    sample.write_text(json.dumps(document))
    answer = submit_file(partner["amqp_uri"], str(sample), namespace=namespace,
                         message_id=message_id, wait=30)
    assert answer["outcome"] == "accepted", answer

    enrollment_db = database(envs["enrollment"])
    enrollment = wait_until(lambda: enrollment_db.enrollments.find_one(
        {"partner_message_id": message_id}), what="the enrollment")
    assert enrollment["module"] == 1
    assert enrollment_db.enterprises.count_documents({"registration_number": "8120001234567"}) == 1

    registration = wait_until(lambda: database(envs["scheduling"]).registrations.find_one(
        {"enrollment_id": enrollment["_id"]}), what="the registration")
    assert registration["status"] == "registered"
    assert registration["workshop_id"] == workshop["workshop_id"]

    reminders = database(envs["notifications"]).messages
    wait_until(lambda: reminders.count_documents({"subject_id": registration["_id"]}) > 0,
               what="planned reminders")
    assert {r["channel"] for r in reminders.find({"subject_id": registration["_id"]})} == {
        "sms", "email"}

    reporting = database(envs["reporting"])
    wait_until(lambda: reporting.enterprise_records.count_documents({"_id": enrollment["_id"]}),
               what="the enrollment counted")
    # reporting keeps every event of the chain, all under the partner's correlation id
    wait_until(lambda: reporting.events.count_documents({"correlation_id": message_id}) == 4,
               what="four events recorded")
    assert {e["event_type"] for e in reporting.events.find({"correlation_id": message_id})} == {
        "enrollment_accepted", "participant_registered", "reminders_planned",
        "enrollment_status_changed"}
    # the placement moved the enrollment on: the partner sees it in training
    wait_until(lambda: enrollment_db.enrollments.find_one(
        {"_id": enrollment["_id"]})["status"] == "in_training", what="in training")

    # each service wrote only its own database
    assert "enrollments" not in database(envs["scheduling"]).list_collection_names()
    # coaching drafts the team's visits from the workshop's days, but books none until the
    # team qualifies at the workshop
    draft = wait_until(lambda: database(envs["coaching"]).visit_plans.find_one(
        {"enrollment_id": enrollment["_id"]}), what="the draft visit plan")
    assert draft["status"] == "provisional" and draft["workshop_id"] == workshop["workshop_id"]
    assert {visit["trainer_id"] for visit in draft["visits"]} == {None}

    # the same message again changes nothing anywhere, and is answered the same
    again = submit_file(partner["amqp_uri"], str(sample), namespace=namespace,
                        message_id=message_id, wait=30)
    assert again["replayed"] and again["enrollment_id"] == answer["enrollment_id"]
    time.sleep(2)
    assert enrollment_db.enrollments.count_documents({"partner_message_id": message_id}) == 1
    assert reporting.enterprise_records.count_documents({}) == 1

    # one grep follows the enrollment through every service's JSON logs
    for service in ("enrollment", "scheduling", "notifications", "reporting"):
        lines = [json.loads(line) for line in (logs / f"{service}.log").read_text().splitlines()
                 if line.startswith("{")]
        mine = [line for line in lines if line.get("correlation_id") == message_id]
        assert mine, f"{service} logged nothing under the partner's correlation id"
        assert all(line["service"] == service for line in mine)


def test_every_service_reports_its_own_checks(system):
    envs, _ = system
    for service in SERVICES:
        report = health(envs[service]["SCORE_HTTP_ADDRESS"])
        assert report["service"] == service
        assert report["checks"]["mongodb"]["ok"] and report["checks"]["rabbitmq"]["ok"]
        address = envs[service]["SCORE_HTTP_ADDRESS"]
        with urllib.request.urlopen(f"http://{address}/health/live", timeout=2) as response:
            assert json.loads(response.read())["status"] == "alive"
