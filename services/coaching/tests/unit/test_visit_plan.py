from datetime import date, timedelta

import pytest

from score_coaching.domain import plan_visits


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
