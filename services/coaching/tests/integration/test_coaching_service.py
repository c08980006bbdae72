"""Coaching runs on the real broker and database."""
from nameko.standalone.rpc import ClusterRpcProxy

from score_coaching.service import CoachingService


def test_coaching_answers_health_and_queries(start_service):
    config = start_service(CoachingService)
    with ClusterRpcProxy(config) as cluster:
        report = cluster.coaching.health()
        assert report["status"] == "ok" and report["service"] == "coaching"
        assert cluster.coaching.get_visit_plan("no-such-plan") is None
