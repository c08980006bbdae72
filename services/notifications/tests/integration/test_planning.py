"""Notifications on the real broker and database."""
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.scheduling import SAMPLE_PARTICIPANT_REGISTERED
from score_common.testing import wait_until
from score_notifications.service import NotificationsService


def test_a_registration_gets_its_reminders_planned_once(start_service, publisher):
    config = start_service(NotificationsService)
    envelope = registry.build("participant_registered", SAMPLE_PARTICIPANT_REGISTERED,
                              producer="scheduling")
    publisher.publish_event(envelope)
    publisher.publish_event(envelope)

    with ClusterRpcProxy(config) as cluster:
        reminders = wait_until(lambda: cluster.notifications.reminders_for("reg-0001"),
                               what="planned reminders")
    kinds = [r["kind"] for r in reminders]
    assert kinds[0] == "registration_confirmation"
    assert {"workshop_in_7_days", "workshop_tomorrow", "workshop_day_2_morning"} <= set(kinds)
    assert len(kinds) == len(set(kinds))  # planned once despite the duplicate
    assert {r["channel"] for r in reminders} == {"email"}  # the sample's manager
