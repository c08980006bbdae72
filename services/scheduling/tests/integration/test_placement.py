"""Scheduling on the real broker and database."""
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_common.testing import queue_depth, wait_until
from score_scheduling.service import SchedulingService


def test_an_accepted_enrollment_is_registered_once(start_service, publisher):
    config = start_service(SchedulingService)
    envelope = registry.build("enrollment_accepted", SAMPLE_ENROLLMENT_ACCEPTED,
                              producer="enrollment")
    publisher.publish_event(envelope)
    publisher.publish_event(envelope)

    with ClusterRpcProxy(config) as cluster:
        registration = wait_until(lambda: cluster.scheduling.get_registration("reg-enr-0001"),
                                  what="the registration")
    assert registration["workshop_id"] == "ws-m1-id-jk-202703"
    notifications_queue = f"{config['SCORE_NAMESPACE']}.notifications.handle_participant_registered"
    wait_until(lambda: queue_depth(config["AMQP_URI"], notifications_queue) == 1,
               what="participant_registered for notifications")
