from datetime import date, datetime, time, timezone

from score_scheduling import domain
from score_scheduling.domain import Candidate, TrainerView

TODAY = date(2027, 1, 4)


def test_workshop_days_skip_weekends():
    # 2027-03-26 is Good Friday and a Friday: the next two consecutive working days are
    # Monday and Tuesday.
    assert domain.first_two_working_days(date(2027, 3, 26)) == [date(2027, 3, 29),
                                                                date(2027, 3, 30)]


def test_workshop_days_skip_public_holidays():
    # 2027-08-17 (Tuesday) is Indonesia's Independence Day.
    days = domain.first_two_working_days(date(2027, 8, 16))
    assert date(2027, 8, 17) not in days
    assert days == [date(2027, 8, 18), date(2027, 8, 19)]


def test_good_days_pass():
    assert domain.check_days([date(2027, 3, 22), date(2027, 3, 23)], TODAY) == {}


def test_each_bad_day_is_named_with_its_reason():
    errors = domain.check_days([date(2027, 8, 16), date(2027, 8, 17)], TODAY)
    assert errors == {"days[1]": ["2027-08-17 is a public holiday in Indonesia "
                                  "(Independence Day)"]}
    errors = domain.check_days([date(2027, 3, 20), date(2027, 3, 21)], TODAY)
    assert errors["days[0]"] == ["2027-03-20 is a Saturday"]
    assert errors["days[1]"] == ["2027-03-21 is a Sunday"]


def test_days_must_be_two_and_consecutive_and_ahead():
    assert "a module workshop is 2 days" in domain.check_days([date(2027, 3, 22)],
                                                              TODAY)["days"][0]
    assert domain.check_days([date(2027, 3, 22)], TODAY, kind="results") == {}
    assert "must follow" in domain.check_days([date(2027, 3, 22), date(2027, 3, 24)],
                                              TODAY)["days"][0]
    past = domain.check_days([date(2026, 12, 1), date(2026, 12, 2)], TODAY)
    assert "in the past" in past["days[0]"][0]


def test_sessions_are_stored_in_utc_from_the_venues_clock():
    [jakarta] = domain.sessions_utc([date(2027, 3, 22)], "ID-JK")
    [bali] = domain.sessions_utc([date(2027, 3, 22)], "ID-BA")
    [papua] = domain.sessions_utc([date(2027, 3, 22)], "ID-PA", time(9, 0), time(15, 0))
    assert jakarta["starts_at"] == datetime(2027, 3, 22, 1, 0, tzinfo=timezone.utc)  # WIB +7
    assert bali["starts_at"] == datetime(2027, 3, 22, 0, 0, tzinfo=timezone.utc)     # WITA +8
    assert papua["starts_at"] == datetime(2027, 3, 22, 0, 0, tzinfo=timezone.utc)    # WIT +9
    assert papua["ends_at"] == datetime(2027, 3, 22, 6, 0, tzinfo=timezone.utc)
    assert domain.local_time(bali["starts_at"], "ID-BA").hour == 8


SITI = TrainerView("trn-siti", "Siti", (1, 2), ("ID-JK", "ID-JB"),
                   ((date(2027, 4, 1), date(2027, 4, 10), "leave"),))


def test_a_certified_available_trainer_in_the_province_may_teach():
    assert domain.check_trainer(SITI, "trn-siti", 1, "ID-JK",
                                [date(2027, 3, 22), date(2027, 3, 23)]) == []


def test_each_reason_a_trainer_cannot_teach_is_given():
    reasons = domain.check_trainer(SITI, "trn-siti", 5, "ID-BA",
                                   [date(2027, 4, 5), date(2027, 4, 6)])
    assert any("not certified for module 5 (certified: 1, 2)" in r for r in reasons)
    assert any("does not work in Bali" in r for r in reasons)
    assert any("unavailable from 2027-04-01 to 2027-04-10 (leave)" in r for r in reasons)
    assert domain.check_trainer(None, "trn-nobody", 1, "ID-JK", []) == [
        "no trainer 'trn-nobody' is registered"]
    # a results workshop needs no module certificate
    assert domain.check_trainer(SITI, "trn-siti", 5, "ID-JK",
                                [date(2027, 3, 22)], kind="results") == []


def test_capacity_is_checked_against_the_venue():
    assert domain.check_capacity(6, 24, 30) == {}
    assert domain.check_capacity(6, 40, 30) == {
        "capacity_seats": ["over capacity: the venue holds 30"]}
    assert "capacity_enterprises" in domain.check_capacity(0, 24, 30)


def test_the_earliest_fitting_workshop_within_the_period_is_chosen():
    period = (date(2027, 3, 1), date(2027, 4, 15))
    candidates = [
        Candidate("late", date(2027, 4, 12), 3, 20),
        Candidate("full", date(2027, 3, 8), 0, 20),
        Candidate("too-small", date(2027, 3, 9), 2, 1),
        Candidate("early-but-outside", date(2027, 2, 22), 5, 20),
        Candidate("fits", date(2027, 3, 15), 1, 4),
    ]
    assert domain.choose_workshop(candidates, period, team_size=3) == "fits"
    assert domain.choose_workshop(candidates, period, team_size=5) == "late"
    assert domain.choose_workshop(candidates, period, team_size=30) is None
