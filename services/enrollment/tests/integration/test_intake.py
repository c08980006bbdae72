"""Partner intake over the real broker and database, with pika acting as the partners.

Each partner is provisioned as it would be in production: a registered partner, its own
RabbitMQ user with only its own permissions, an HTTP API key.
"""
import json
import uuid
from urllib.parse import urlsplit

import pika
import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.broker_admin import BrokerAdmin
from score_common.contracts import registry
from score_common.contracts.scheduling import (
    SAMPLE_PARTICIPANT_REGISTERED, SAMPLE_PARTICIPANT_WAITLISTED, SAMPLE_WORKSHOP_COMPLETED,
)
from score_common.messaging.topology import Topology
from score_common.testing import drain_queue, queue_depth, wait_until
from score_enrollment.examples import BAD_INPUTS, bad_body, valid_submission
from score_enrollment.partner_admin import provision_partner
from score_enrollment.partner_client import publish_submission, wait_for_answer
from score_enrollment.service import EnrollmentService


class PartnerSide:
    """One partner's systems: its AMQP connection and its HTTP key."""

    def __init__(self, code, amqp_uri, api_key, base_url, namespace):
        self.code, self.amqp_uri, self.api_key = code, amqp_uri, api_key
        self.base_url, self.namespace = base_url, namespace

    def connect(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = connection.channel()
        channel.confirm_delivery()
        return connection, channel

    def submit(self, document, message_id=None, **kwargs):
        message_id = message_id or str(uuid.uuid4())
        connection, channel = self.connect()
        try:
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            publish_submission(channel, body, user=self.code, message_id=message_id,
                               namespace=self.namespace, **kwargs)
            return wait_for_answer(channel, user=self.code, message_id=message_id,
                                   namespace=self.namespace, timeout=30)
        finally:
            connection.close()

    def http(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base_url + "/partner/v1" + path, headers=headers,
                                timeout=30, **kwargs)


@pytest.fixture
def platform(start_service, servers):
    config = start_service(EnrollmentService)
    admin = BrokerAdmin.for_amqp_uri(servers.management_url, config["AMQP_URI"])
    topology = Topology.from_config(config)
    created = []

    def partner(prefix="bedo") -> PartnerSide:
        code = f"{prefix}-{uuid.uuid4().hex[:8]}"
        provisioned = provision_partner(config["AMQP_URI"], servers.management_url, code,
                                        f"Partner {prefix}", "training_institution",
                                        namespace=config["SCORE_NAMESPACE"])
        created.append(code)
        return PartnerSide(code, provisioned["amqp_uri"], provisioned["api_key"],
                           f"http://{config['WEB_SERVER_ADDRESS']}", config["SCORE_NAMESPACE"])

    platform = type("Platform", (), {})()
    platform.config, platform.partner, platform.topology = config, partner, topology
    yield platform
    for code in created:
        admin.delete_user(code)


def rpc(config):
    return ClusterRpcProxy(config)


def nib(n=None):
    return "81" + f"{uuid.uuid4().int % 10**11:011d}" if n is None else n


def test_an_accepted_submission_is_answered_once_enrolled_once_and_announced(platform):
    bedo = platform.partner()
    message_id = f"bedo-{uuid.uuid4()}"
    document = valid_submission(nib())

    first = bedo.submit(document, message_id)
    again = bedo.submit(document, message_id)

    assert first["outcome"] == "accepted" and first["errors"] == {}
    assert first["message_id"] == message_id and first["partner_id"] == bedo.code
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == \
        {k: v for k, v in first.items() if k != "replayed"}
    with rpc(platform.config) as cluster:
        listed = cluster.enrollment.list_enrollments(partner_id=bedo.code)
        enterprise = cluster.enrollment.get_enterprise(first["enterprise_id"])
    assert listed["total"] == 1 and listed["items"][0]["enrollment_id"] == first["enrollment_id"]
    assert enterprise["contact"]["phone"] == "+6281234567890"
    namespace = platform.config["SCORE_NAMESPACE"]
    scheduling_queue = f"{namespace}.scheduling.handle_enrollment_accepted"
    wait_until(lambda: queue_depth(platform.config["AMQP_URI"], scheduling_queue) >= 1,
               what="the event for scheduling")
    events = [json.loads(m.body) for m in drain_queue(platform.config["AMQP_URI"],
                                                      scheduling_queue)]
    assert len({e["event_id"] for e in events}) == 1
    payload = events[0]["payload"]
    assert events[0]["correlation_id"] == message_id
    assert payload["enterprise"]["size"] == "large" and payload["channel"] == "amqp"
    assert all(m["consent_to_reminders"] for m in payload["team"])


def test_every_bad_input_is_answered_with_its_reason_and_good_ones_are_not_held_up(platform):
    bedo = platform.partner()
    connection, channel = bedo.connect()
    sent = {}
    try:
        good_before = f"good-{uuid.uuid4()}"
        publish_submission(channel, json.dumps(valid_submission(nib())).encode(), user=bedo.code,
                           message_id=good_before, namespace=bedo.namespace)
        for bad in BAD_INPUTS:
            message_id = f"bad-{uuid.uuid4()}"
            sent[message_id] = bad
            publish_submission(channel, bad_body(bad, valid_submission(nib())), user=bedo.code,
                               message_id=message_id, namespace=bedo.namespace,
                               content_type=bad.content_type)
        good_after = f"good-{uuid.uuid4()}"
        publish_submission(channel, json.dumps(valid_submission(nib())).encode(), user=bedo.code,
                           message_id=good_after, namespace=bedo.namespace)
        answers = {}
        queue = platform.topology.partner_outcome_queue_name(bedo.code)

        def collect():
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return len(answers) == len(sent) + 2
                answers[properties.correlation_id] = json.loads(body)

        wait_until(collect, timeout=60, what="an answer to every submission")
    finally:
        connection.close()
    assert answers[good_before]["outcome"] == answers[good_after]["outcome"] == "accepted"
    for message_id, bad in sent.items():
        answer = answers[message_id]
        assert answer["outcome"] == "rejected", bad.name
        assert bad.field in answer["errors"], (bad.name, answer["errors"])
        assert any(bad.reason.lower() in r.lower() for r in answer["errors"][bad.field]), \
            (bad.name, answer["errors"])
    with rpc(platform.config) as cluster:
        kept = cluster.enrollment.get_submission(bedo.code, next(iter(sent)))
    assert kept["outcome"] == "rejected" and kept["body"]  # kept for inspection


def test_a_partner_cannot_publish_or_read_as_another(platform):
    bedo, apindo = platform.partner("bedo"), platform.partner("apindo")
    body = json.dumps(valid_submission(nib())).encode()

    def attempt(action):
        connection, channel = bedo.connect()
        try:
            action(channel)
            connection.process_data_events(time_limit=0.5)
        except pika.exceptions.ChannelClosedByBroker as closed:
            return closed.reply_code, closed.reply_text
        finally:
            if connection.is_open:
                connection.close()
        return None

    # as apindo by user_id: the broker refuses a user_id that is not the connection's user
    code, text = attempt(lambda ch: ch.basic_publish(
        platform.topology.submissions_exchange_name, f"submission.{bedo.code}", body,
        pika.BasicProperties(user_id=apindo.code, message_id="x",
                             content_type="application/json")))
    assert code == 406 and "user_id" in text
    # into apindo's routing key: the topic permission refuses it
    code, text = attempt(lambda ch: ch.basic_publish(
        platform.topology.submissions_exchange_name, f"submission.{apindo.code}", body,
        pika.BasicProperties(user_id=bedo.code, message_id="y",
                             content_type="application/json")))
    assert code == 403 and "access" in text.lower()
    # reading apindo's answers
    code, _ = attempt(lambda ch: ch.basic_get(
        platform.topology.partner_outcome_queue_name(apindo.code)))
    assert code == 403

    # over HTTP: apindo's enrollment is invisible to bedo, and its key is not bedo's
    created = apindo.http("POST", "/submissions", data=body, headers={
        "Content-Type": "application/json", "Idempotency-Key": "apindo-1"})
    assert created.status_code == 201, created.text
    apindo_enrollment = created.json()["enrollment_id"]
    assert bedo.http("GET", f"/enrollments/{apindo_enrollment}").status_code == 404
    assert bedo.http("POST", f"/enrollments/{apindo_enrollment}/withdrawal",
                     json={"reason": "spite"}).status_code == 404
    assert bedo.http("GET", "/enrollments").json()["total"] == 0
    assert bedo.http("GET", "/submissions/apindo-1").status_code == 404
    assert apindo.http("GET", "/enrollments").json()["total"] == 1
    forged = requests.get(bedo.base_url + "/partner/v1/enrollments", timeout=10,
                          headers={"Authorization": f"Bearer {bedo.api_key[:-2]}xx"})
    assert forged.status_code == 401
    assert forged.headers["Content-Type"] == "application/problem+json"


def test_a_message_from_no_partner_is_dead_lettered_with_the_reason(platform):
    config = platform.config
    with pika.BlockingConnection(pika.URLParameters(config["AMQP_URI"])) as connection:
        channel = connection.channel()
        user = urlsplit(config["AMQP_URI"]).username
        channel.basic_publish(platform.topology.submissions_exchange_name,
                              f"submission.{user}", json.dumps(valid_submission()).encode(),
                              pika.BasicProperties(user_id=user, message_id="ops-1",
                                                   content_type="application/json"))
    dead = platform.topology.dead_queue_name(f"{config['SCORE_NAMESPACE']}.enrollment.intake")
    wait_until(lambda: queue_depth(config["AMQP_URI"], dead) == 1, what="the dead letter")
    [message] = drain_queue(config["AMQP_URI"], dead)
    assert "not a registered, active partner" in message.headers["x-score-error"]
    assert message.headers["x-score-attempts"] == 1


def test_http_intake_answers_like_amqp_and_the_lifecycle_moves_by_rules(platform):
    bedo = platform.partner()
    document = valid_submission(nib())
    headers = {"Content-Type": "application/json", "Idempotency-Key": "http-1"}

    created = bedo.http("POST", "/submissions", json=document, headers=headers)
    replayed = bedo.http("POST", "/submissions", json=document, headers=headers)
    assert created.status_code == 201 and replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    enrollment_id = created.json()["enrollment_id"]
    assert created.headers["Location"].endswith(enrollment_id)

    changed = dict(document, module=9)
    reused = bedo.http("POST", "/submissions", json=changed, headers=headers)
    assert reused.status_code == 200  # the first answer stands, with a warning
    assert reused.json()["warnings"][-1]["code"] == "message_id_reused"

    rejected = bedo.http("POST", "/submissions", json=changed, headers={
        **headers, "Idempotency-Key": "http-2"})
    assert rejected.status_code == 422
    assert rejected.headers["Content-Type"] == "application/problem+json"
    assert "module" in rejected.json()["errors"]

    assert bedo.http("POST", "/submissions", data=b"x" * (300 * 1024), headers={
        **headers, "Idempotency-Key": "http-3"}).status_code == 413
    no_key = requests.post(bedo.base_url + "/partner/v1/submissions", json=document, timeout=10)
    assert no_key.status_code == 401

    listed = bedo.http("GET", "/enrollments", params={"status": "accepted"}).json()
    assert [e["enrollment_id"] for e in listed["items"]] == [enrollment_id]
    assert bedo.http("GET", "/enrollments", params={"module": "7"}).status_code == 400

    assert bedo.http("POST", f"/enrollments/{enrollment_id}/withdrawal",
                     json={}).status_code == 422
    withdrawn = bedo.http("POST", f"/enrollments/{enrollment_id}/withdrawal",
                          json={"reason": "the owner sold the business"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert [h["status"] for h in withdrawn.json()["history"]] == ["submitted", "accepted",
                                                                  "withdrawn"]
    with rpc(platform.config) as cluster:
        with pytest.raises(Exception, match="cannot become in_training"):
            cluster.enrollment.change_status(enrollment_id, "in_training", None, "staff:ana")
        # withdrawal freed the module: the enterprise may enroll in it again
        again = cluster.enrollment.submit(bedo.code, "http-4", document)
    assert again["outcome"] == "accepted"

    reporting_queue = f"{platform.config['SCORE_NAMESPACE']}.reporting.handle_platform_event"
    wait_until(lambda: queue_depth(platform.config["AMQP_URI"], reporting_queue) >= 4,
               what="the events for reporting")
    types = [json.loads(m.body)["event_type"] for m in drain_queue(
        platform.config["AMQP_URI"], reporting_queue)]
    assert {"enrollment_accepted", "enrollment_rejected", "enrollment_status_changed"} <= \
        set(types)


def test_the_registry_keeps_one_enterprise_per_nib_across_modules_and_partners(platform):
    bedo, apindo = platform.partner("bedo"), platform.partner("apindo")
    number = nib()
    module_one = bedo.submit(valid_submission(number))
    same_module = apindo.submit(valid_submission(number))
    module_two_updated = valid_submission(number, module=2)
    module_two_updated["enterprise"]["workforce"] = {"women": 2, "men": 3}
    module_two = apindo.submit(module_two_updated)
    lookalike = bedo.submit(valid_submission(nib(), name="P.T. Tjokro  Bersaudara"))

    assert module_one["outcome"] == "accepted"
    assert same_module["outcome"] == "rejected"
    assert "already enrolled" in same_module["errors"]["module"][0]
    assert module_two["outcome"] == "accepted"
    assert module_two["enterprise_id"] == module_one["enterprise_id"]
    assert [w["code"] for w in module_two["warnings"]] == ["enterprise_details_updated"]
    assert lookalike["outcome"] == "accepted"
    assert "possible_duplicate_enterprise" in [w["code"] for w in lookalike["warnings"]]
    with rpc(platform.config) as cluster:
        enterprise = cluster.enrollment.get_enterprise(module_one["enterprise_id"])
    assert sorted(e["module"] for e in enterprise["enrollments"]) == [1, 2]
    assert enterprise["size"] == "small"
    assert enterprise["history"][0]["changes"]["workforce"] == {"women": 40, "men": 85}


def test_a_csv_upload_is_answered_per_row(platform):
    bedo = platform.partner()
    good, bad = nib(), nib()
    start = valid_submission()["preferred_period"]["start"]
    end = valid_submission()["preferred_period"]["end"]
    header = ("message_id,module,enterprise_name,registration_number,sector,province,district,"
              "workforce_women,workforce_men,contact_name,contact_email,contact_phone,"
              "preferred_start,preferred_end,member_name,member_role,member_sex,member_phone,"
              "member_email,member_language,member_consent")
    rows = [
        f"c-1,1,PT Trijaya Teknik,{good},automotive_parts,ID-JB,Karawang Timur,12,60,Ahmad,"
        f"ahmad@trijaya.example.co.id,0812 1111 2222,{start},{end},Ahmad,manager,male,"
        "0812 1111 2222,,id,yes",
        "c-1,,,,,,,,,,,,,,Dewi,worker,female,0813 2222 3333,,id,ya",
        f"c-2,1,CV Lestari,{bad},garments_textiles,ID-JB,Depok,30,5,Rina,rina@lestari.example,"
        f"0812 5555 6666,{start},{end},Rina,manager,female,0812 5555 6666,,id,yes",
        "c-2,,,,,,,,,,,,,,Yanto,worker,male,021 555 1234,,id,no",
    ]
    response = bedo.http("POST", "/submissions/csv", data="\n".join([header, *rows]).encode(),
                         headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    by_line = {row["line"]: row for row in result["rows"]}
    assert by_line[2]["outcome"] == by_line[3]["outcome"] == "accepted"
    assert by_line[5]["outcome"] == "rejected"
    assert "landline" in by_line[5]["errors"]["member_phone"][0]
    again = bedo.http("POST", "/submissions/csv", data="\n".join([header, *rows]).encode(),
                      headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert again.status_code == 200 and again.headers["Content-Type"].startswith("text/csv")
    assert "member_phone: must be a mobile number" in again.text
    assert bedo.http("GET", "/enrollments").json()["total"] == 1


def test_a_submission_without_user_id_or_message_id_is_still_answered(platform):
    bedo = platform.partner()
    connection, channel = bedo.connect()
    body = json.dumps(valid_submission(nib())).encode()
    try:
        channel.basic_publish(platform.topology.submissions_exchange_name,
                              f"submission.{bedo.code}", body,
                              pika.BasicProperties(message_id="no-user",
                                                   content_type="application/json"))
        channel.basic_publish(platform.topology.submissions_exchange_name,
                              f"submission.{bedo.code}", body,
                              pika.BasicProperties(user_id=bedo.code,
                                                   content_type="application/json"))
        answers = []
        queue = platform.topology.partner_outcome_queue_name(bedo.code)

        def collect():
            method, _, raw = channel.basic_get(queue, auto_ack=True)
            if method is not None:
                answers.append(json.loads(raw))
            return len(answers) == 2

        wait_until(collect, what="both answers")
    finally:
        connection.close()
    by_id = {answer["message_id"]: answer for answer in answers}
    assert "missing" in by_id["no-user"]["errors"]["user_id"][0]
    assert "message id" in by_id[None]["errors"]["message_id"][0]
    assert all(answer["outcome"] == "rejected" for answer in answers)


def test_a_revoked_api_key_no_longer_names_its_partner(platform):
    bedo = platform.partner()
    with rpc(platform.config) as cluster:
        assert cluster.enrollment.authenticate(bedo.api_key) == bedo.code
        assert cluster.enrollment.authenticate(bedo.api_key + "x") is None
        key_id = bedo.api_key.split("_")[1]
        assert cluster.enrollment.revoke_api_key(key_id) is True
        assert cluster.enrollment.authenticate(bedo.api_key) is None
    assert bedo.http("GET", "/enrollments").status_code == 401


def test_a_burst_with_repeats_and_rivals_is_answered_like_one_message_at_a_time(platform):
    """Published back to back, these are answered in batches: the outcome is the same as if
    each had been handled alone."""
    bedo = platform.partner()
    connection, channel = bedo.connect()
    queue = platform.topology.partner_outcome_queue_name(bedo.code)
    plain = {f"burst-{i}": valid_submission(nib(), name=f"UD Burst {i}") for i in range(40)}
    repeated = f"burst-repeat-{uuid.uuid4()}"
    rival_nib = nib()
    rivals = [f"rival-a-{uuid.uuid4()}", f"rival-b-{uuid.uuid4()}"]
    try:
        for message_id, document in plain.items():
            publish_submission(channel, json.dumps(document).encode(), user=bedo.code,
                               message_id=message_id, namespace=bedo.namespace)
        repeat_body = json.dumps(valid_submission(nib())).encode()
        for _ in range(3):
            publish_submission(channel, repeat_body, user=bedo.code, message_id=repeated,
                               namespace=bedo.namespace)
        for message_id in rivals:  # the same enterprise and module under two message ids
            publish_submission(channel, json.dumps(valid_submission(rival_nib)).encode(),
                               user=bedo.code, message_id=message_id, namespace=bedo.namespace)
        answers: dict[str, list] = {}

        def collect():
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return sum(map(len, answers.values())) == len(plain) + 3 + 2
                answers.setdefault(properties.correlation_id, []).append(json.loads(body))

        wait_until(collect, timeout=60, what="an answer to every message")
    finally:
        connection.close()
    assert all(answers[m][0]["outcome"] == "accepted" for m in plain)
    assert len({answers[m][0]["enrollment_id"] for m in plain}) == len(plain)
    copies = answers[repeated]
    assert [a["outcome"] for a in copies] == ["accepted"] * 3
    assert len({a["enrollment_id"] for a in copies}) == 1
    assert sorted(a["replayed"] for a in copies) == [False, True, True]
    outcomes = sorted(answers[m][0]["outcome"] for m in rivals)
    assert outcomes == ["accepted", "rejected"]
    refused = next(answers[m][0] for m in rivals if answers[m][0]["outcome"] == "rejected")
    assert "already enrolled in module 1" in refused["errors"].get("module", [""])[0], \
        refused["errors"]
    with rpc(platform.config) as cluster:
        listed = cluster.enrollment.list_enrollments(partner_id=bedo.code, limit=100)
    assert listed["total"] == len(plain) + 1 + 1


def test_the_status_follows_placement_and_attendance(platform, publisher):
    bedo = platform.partner()
    kept = bedo.submit(valid_submission(nib()))["enrollment_id"]
    gone = bedo.submit(valid_submission(nib()))["enrollment_id"]
    with rpc(platform.config) as cluster:
        cluster.enrollment.change_status(gone, "withdrawn", "closed", "partner:" + bedo.code)

    def scheduling_says(event_type, payload):
        publisher.publish_event(registry.build(event_type, payload, producer="scheduling"))

    def status(enrollment_id):
        with rpc(platform.config) as cluster:
            return cluster.enrollment.get_enrollment(enrollment_id)["status"]

    waitlisted = {**SAMPLE_PARTICIPANT_WAITLISTED, "enrollment_id": kept}
    scheduling_says("participant_waitlisted", waitlisted)
    wait_until(lambda: status(kept) == "waitlisted", what="waitlisted")
    for enrollment_id in (kept, gone):
        scheduling_says("participant_registered", {**SAMPLE_PARTICIPANT_REGISTERED,
                                                   "enrollment_id": enrollment_id})
    wait_until(lambda: status(kept) == "in_training", what="in training")
    team = SAMPLE_WORKSHOP_COMPLETED["teams"][0]
    scheduling_says("workshop_completed", {**SAMPLE_WORKSHOP_COMPLETED, "teams": [
        {**team, "enrollment_id": kept},
        {**team, "enrollment_id": gone, "qualified": False, "reason": "no worker attended"}]})
    wait_until(lambda: status(kept) == "coaching", what="on to coaching")
    assert status(gone) == "withdrawn"  # a withdrawal is final, whatever scheduling says later
    with rpc(platform.config) as cluster:
        history = cluster.enrollment.get_enrollment(kept)["history"]
    assert [h["status"] for h in history][-3:] == ["waitlisted", "in_training", "coaching"]
    assert "ws-0001" in history[-2]["reason"]
