"""Partner intake over the real broker, with pika acting as the partner."""
import json
import uuid
from pathlib import Path

from nameko.standalone.rpc import ClusterRpcProxy

from score_common.messaging.topology import Topology
from score_common.testing import drain_queue, queue_depth, wait_until
from score_enrollment.partner_client import submit_file
from score_enrollment.service import EnrollmentService

SAMPLE = Path(__file__).resolve().parents[4] / "samples" / "partner-enrollment.json"


def test_a_submission_is_enrolled_once_and_announced(start_service, tmp_path):
    config = start_service(EnrollmentService)
    namespace, message_id = config["SCORE_NAMESPACE"], str(uuid.uuid4())

    submit_file(config["AMQP_URI"], str(SAMPLE), namespace=namespace, message_id=message_id)
    submit_file(config["AMQP_URI"], str(SAMPLE), namespace=namespace, message_id=message_id)

    with ClusterRpcProxy(config) as cluster:
        from score_enrollment.domain import enrollment_id

        user = config["AMQP_URI"].split("//")[1].split(":")[0]
        wanted = enrollment_id(user, message_id)
        enrollment = wait_until(lambda: cluster.enrollment.get_enrollment(wanted),
                                what="the enrollment")
    assert enrollment["status"] == "accepted" and enrollment["module"] == 1
    # scheduling is not running, yet its queue exists and holds the event: nothing was lost.
    # (A resubmission racing the first publish may send the same event again; consumers'
    # inboxes drop the copy, so what counts is one distinct event.)
    scheduling_queue = f"{namespace}.scheduling.handle_enrollment_accepted"
    wait_until(lambda: queue_depth(config["AMQP_URI"], scheduling_queue) >= 1,
               what="the event for scheduling")
    events = [json.loads(m.body) for m in drain_queue(config["AMQP_URI"], scheduling_queue)]
    assert len({e["event_id"] for e in events}) == 1
    assert events[0]["correlation_id"] == message_id


def test_an_invalid_submission_is_dead_lettered_naming_the_field(start_service, tmp_path):
    config = start_service(EnrollmentService)
    bad = json.loads(SAMPLE.read_text())
    bad["module"] = 9
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))

    submit_file(config["AMQP_URI"], str(path), namespace=config["SCORE_NAMESPACE"])

    dead = Topology.from_config(config).dead_queue_name(f"{config['SCORE_NAMESPACE']}"
                                                        ".enrollment.intake")
    wait_until(lambda: queue_depth(config["AMQP_URI"], dead) == 1, what="the dead letter")
    [message] = drain_queue(config["AMQP_URI"], dead)
    assert '"module"' in message.headers["x-score-error"]
    assert message.headers["x-score-attempts"] == 1
