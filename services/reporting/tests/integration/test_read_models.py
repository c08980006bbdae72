"""Reporting on the real broker and database."""
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_common.testing import wait_until
from score_reporting.models import RecordedEvent
from score_reporting.service import ReportingService


def test_enrollments_are_counted_once_each(start_service, publisher):
    config = start_service(ReportingService)
    first = registry.build("enrollment_accepted", SAMPLE_ENROLLMENT_ACCEPTED, producer="enrollment")
    second = registry.build("enrollment_accepted",
                            {**SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": "enr-0002", "module": 3},
                            producer="enrollment")
    for envelope in (first, first, second):
        publisher.publish_event(envelope)

    with ClusterRpcProxy(config) as cluster:
        counts = wait_until(lambda: (c := cluster.reporting.enrollment_counts())["enrollments"] == 2
                            and c, what="two enrollments counted")
    assert counts["enterprises"] == 1
    assert counts["participants"] == {"women": 2, "men": 2}
    assert counts["by_module"] == {"1": 1, "3": 1}
    assert RecordedEvent.objects.count() == 2
