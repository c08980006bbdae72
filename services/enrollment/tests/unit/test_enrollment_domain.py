import pytest

from score_enrollment import domain
from score_enrollment.service import submission_routing_partner


@pytest.mark.parametrize("current, target", [("submitted", "accepted"), ("accepted", "waitlisted"),
                                             ("coaching", "completed"), ("in_training", "withdrawn")])
def test_valid_transitions(current, target):
    domain.check_transition(current, target)


@pytest.mark.parametrize("current, target", [("completed", "accepted"), ("rejected", "accepted"),
                                             ("submitted", "coaching"), ("withdrawn", "in_training")])
def test_invalid_transitions_say_what_is_allowed(current, target):
    with pytest.raises(domain.InvalidTransition, match="allowed"):
        domain.check_transition(current, target)


def test_the_same_partner_message_names_the_same_enrollment():
    assert domain.enrollment_id("bedo", "m-1") == domain.enrollment_id("bedo", "m-1")
    assert domain.enrollment_id("bedo", "m-1") != domain.enrollment_id("apindo", "m-1")


@pytest.mark.parametrize("routing_key, partner", [("submission.bedo", "bedo"),
                                                  ("submission.", None), ("bedo", None),
                                                  ("other.bedo", None)])
def test_the_routing_key_names_the_partner_only_in_its_one_form(routing_key, partner):
    assert submission_routing_partner(routing_key) == partner
