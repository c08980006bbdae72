import pytest

from score_coaching import kpis


def test_the_dictionary_holds_the_score_indicators_with_units_and_direction():
    for code in ("productivity", "defect_rate", "rework", "reject_rate", "absenteeism",
                 "energy_use", "cost_saving", "audit_5s", "suggestions_made",
                 "suggestions_implemented", "accidents", "staff_turnover"):
        kpi = kpis.DICTIONARY[code]
        assert kpi.unit and kpi.better in (kpis.HIGHER, kpis.LOWER)
        assert kpi.minimum < kpi.maximum
    assert kpis.DICTIONARY["cost_saving"].unit == "IDR per month"


@pytest.mark.parametrize("code, value, reason", [
    ("happiness", 3, "unknown indicator 'happiness'"),
    ("defect_rate", 140, "out of range for Defect rate: 0 to 100 % of output"),
    ("accidents", -1, "out of range"),
    ("productivity", "12", "must be a number"),
    ("productivity", True, "must be a number"),
])
def test_a_bad_measurement_is_refused_with_its_reason(code, value, reason):
    [why] = kpis.check(code, value)
    assert reason in why


def test_improvement_counts_the_better_direction_as_positive():
    assert kpis.improvement("productivity", 50, 60) == pytest.approx(0.2)
    assert kpis.improvement("defect_rate", 10, 8) == pytest.approx(0.2)
    assert kpis.improvement("defect_rate", 10, 12) == pytest.approx(-0.2)
    assert kpis.improvement("accidents", 0, 0) is None


def test_a_change_beyond_the_factor_is_flagged_not_refused():
    assert kpis.check("productivity", 600) == []
    assert "checked before it counts" in kpis.implausible("productivity", 100, 600)
    assert kpis.implausible("productivity", 100, 130) is None
    assert kpis.implausible("reject_rate", 10, 1.5) is not None
