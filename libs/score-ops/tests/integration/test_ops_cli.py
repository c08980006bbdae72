"""`score` against a running system: status, dead letters shown and replayed, the 2010 pilot
seeded (twice, to no more effect than once), reporting rebuilt, a partner's submission."""
import io
import json
from pathlib import Path

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.coaching import SAMPLE_VISIT_SCHEDULED
from score_common.contracts.scheduling import SAMPLE_TRAINER_REGISTERED
from score_common.testing import handled, queue_depth, wait_until
from score_coaching.service import CoachingService
from score_enrollment.partner_admin import provision_partner
from score_enrollment.service import EnrollmentService
from score_gateway.service import GatewayService
from score_notifications.service import NotificationsService
from score_ops.cli import main
from score_reporting.service import ReportingService
from score_scheduling.service import SchedulingService

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def system(start_service, sinks, servers):
    for service in (EnrollmentService, SchedulingService, CoachingService, ReportingService,
                    GatewayService):
        config = start_service(service)
    config["notifications"] = start_service(NotificationsService, **sinks.env)
    environ = {"AMQP_URI": config["AMQP_URI"], "SCORE_NAMESPACE": config["SCORE_NAMESPACE"],
               "RABBITMQ_MANAGEMENT_URL": servers.management_url}

    def score(*argv):
        out = io.StringIO()
        code = main(list(argv), environ=environ, out=out)
        return code, out.getvalue()

    return config, score


def test_status_dead_letters_and_their_replay(system, publisher):
    config, score = system
    code, text = score("status")
    assert code == 0, text
    for service in ("enrollment", "scheduling", "coaching", "reporting", "notifications",
                    "gateway"):
        assert f"{service:<14} ok" in text
    assert "nothing dead" in text

    # a visit for a trainer notifications has not heard of: retried, then dead-lettered
    publisher.publish_event(registry.build("visit_scheduled", SAMPLE_VISIT_SCHEDULED,
                                           producer="coaching"))
    dead = f"{config['SCORE_NAMESPACE']}.notifications.handle_visit_scheduled.dead"
    wait_until(lambda: queue_depth(config["AMQP_URI"], dead) == 1, what="the dead letter")
    # the management API's figures lag the broker by a few seconds
    text = wait_until(lambda: (lambda result: result[1] if result[0] == 1 else None)(
        score("status")), what="status to see the dead letter")
    assert f"dead letters: {dead} holds 1" in text
    assert f"{dead}: 1" in score("dead", "list")[1]
    shown = score("dead", "show", dead)[1]
    assert "TrainerUnknown after 3 attempt(s)" in shown and "trn-siti" in shown
    assert queue_depth(config["AMQP_URI"], dead) == 1  # showing takes nothing away

    # the cause is mended (the trainer's contacts arrive); the replay now goes through
    contacts = registry.build("trainer_registered", SAMPLE_TRAINER_REGISTERED,
                              producer="scheduling")
    publisher.publish_event(contacts)
    wait_until(lambda: handled(config["notifications"],
                               "notifications.handle_trainer_registered",
                               contacts["event_id"]), what="the trainer's contacts")
    with ClusterRpcProxy(config) as cluster:
        assert "replayed 1 message(s)" in score("dead", "replay", dead)[1]
        wait_until(lambda: cluster.notifications.delivery_log(recipient_id="trn-siti"),
                   what="the replayed visit planned")
    assert queue_depth(config["AMQP_URI"], dead) == 0
    listing = score("queues")[1]
    assert "notifications.handle_visit_scheduled " in listing and ".retry." not in listing


def test_the_pilot_is_seeded_once_and_reporting_rebuilds(system):
    config, score = system
    for _ in range(2):
        code, text = score("seed-pilot")
        assert code == 0, text
    with ClusterRpcProxy(config) as cluster:
        enrolled = cluster.enrollment.list_enrollments(partner_id="bedo")
        assert enrolled["total"] == 5, (text, enrolled)
        assert {e["enterprise_name"] for e in enrolled["items"]} >= {
            "PT Tjokro Bersaudara", "PT Tesena Inovindo"}
        assert len(cluster.scheduling.list_workshops(module=1)) == 2
        wait_until(lambda: cluster.reporting.indicators()["enterprises"]["enrolled"] == 5,
                   what="reporting has them")
    code, text = score("reporting", "rebuild")
    assert code == 0 and "read models from" in text


def test_a_partner_submission_from_the_command_line(system, servers):
    config, score = system
    partner = provision_partner(config["AMQP_URI"], servers.management_url, "bedo", "BEDO",
                                "foundation", namespace=config["SCORE_NAMESPACE"])
    document = json.loads((REPO / "samples" / "partner-enrollment.json").read_text())
    path = Path(config["MONGODB_DATABASE"] + ".json")
    path.write_text(json.dumps(document))
    try:
        assert score("partner", "submit", str(path), "--as", partner["amqp_uri"])[0] == 0
    finally:
        path.unlink()
