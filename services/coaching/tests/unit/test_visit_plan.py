from datetime import date, timedelta

import pytest

from score_coaching.domain import (
    MAX_MOVES, MOVES_BEFORE_HANDOVER, coach_for, plan_visits, resolve_conflict, rhythm,
)


def test_three_visits_weeks_apart_by_default():
    # the 2010 pilot: workshop on 22-23 March 2010
    assert plan_visits(date(2010, 3, 23)) == [date(2010, 4, 13), date(2010, 5, 4),
                                              date(2010, 5, 25)]


def test_visits_move_off_weekends_and_holidays():
    # three weeks after 2027-07-27 is Tuesday 17 August, Independence Day
    [visit] = plan_visits(date(2027, 7, 27), visits=1)
    assert visit == date(2027, 8, 18)
    saturday_plus = plan_visits(date(2027, 3, 6), visits=1, spacing=timedelta(weeks=1))
    assert saturday_plus == [date(2027, 3, 15)]


def test_a_plan_needs_a_visit():
    with pytest.raises(ValueError, match="at least one"):
        plan_visits(date(2027, 3, 1), visits=0)


def test_the_most_specific_rhythm_wins():
    assert rhythm("score", 3) == (3, timedelta(weeks=4))
    assert rhythm("score-hoco", 3) == (4, timedelta(weeks=2))  # the programme's own
    assert rhythm("score-plus", 3) == (3, timedelta(weeks=4))  # falls back to SCORE's module
    assert rhythm("score-plus", 2) == (3, timedelta(weeks=3))  # then to the default
    staff = {"score-hoco:3": (5, timedelta(weeks=1)), "score-plus:0": (2, timedelta(weeks=6))}
    assert rhythm("score-hoco", 3, staff) == (5, timedelta(weeks=1))
    assert rhythm("score-hoco", 2, staff) == (4, timedelta(weeks=2))
    assert rhythm("score-plus", 3, staff) == (2, timedelta(weeks=6))


def test_a_workshops_trainers_share_its_teams():
    assert [coach_for(["trn-a", "trn-b"], i) for i in range(3)] == ["trn-a", "trn-b", "trn-a"]


@pytest.mark.parametrize("moves, free, workshop, expected", [
    (0, ["trn-b", "trn-c"], ["trn-a", "trn-c"], ("handover", "trn-c")),  # co-trainer first
    (0, ["trn-b"], ["trn-a"], ("move", "")),          # keep the coach a while
    (MOVES_BEFORE_HANDOVER, ["trn-b"], ["trn-a"], ("handover", "trn-b")),
    (MOVES_BEFORE_HANDOVER, [], ["trn-a"], ("move", "")),
    (MAX_MOVES, [], ["trn-a"], None),                 # staff decide
    (0, ["trn-a"], ["trn-a"], ("move", "")),          # the busy trainer is no candidate
])
def test_a_conflict_is_resolved_by_handover_or_move(moves, free, workshop, expected):
    assert resolve_conflict("trn-a", moves, free, workshop) == expected
