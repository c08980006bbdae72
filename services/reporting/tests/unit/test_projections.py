from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED
from score_reporting.projections import enrollment_fact


def test_an_enrollment_becomes_a_fact_with_participants_by_sex():
    event = registry.decode(registry.build("enrollment_accepted", SAMPLE_ENROLLMENT_ACCEPTED,
                                           producer="enrollment"))
    fact = enrollment_fact(event)
    assert fact["id"] == "enr-0001"
    assert (fact["team_women"], fact["team_men"]) == (1, 1)
    assert (fact["workforce_women"], fact["workforce_men"]) == (40, 85)
    assert fact["province"] == "ID-JK"
