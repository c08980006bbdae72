from datetime import date, datetime, timezone

from score_notifications.domain import plan_workshop_reminders

MANAGER = {"participant_id": "p1", "role": "manager", "phone": "+6281234567890",
           "email": "m@example.co.id", "language": "en", "consent_to_reminders": True}
WORKER = {"participant_id": "p2", "role": "worker", "phone": "+6285712345678", "email": None,
          "language": "id", "consent_to_reminders": True}
NOW = datetime(2027, 3, 1, 3, 0, tzinfo=timezone.utc)


def plan(participants, tz="Asia/Makassar"):
    return plan_workshop_reminders("reg-1", [date(2027, 3, 23), date(2027, 3, 22)], tz,
                                   participants, NOW)


def test_managers_get_email_and_workers_sms():
    channels = {(r.recipient_id, r.channel) for r in plan([MANAGER, WORKER])}
    assert channels == {("p1", "email"), ("p2", "sms")}


def test_reminders_are_timed_in_the_venues_zone():
    by_kind = {r.kind: r.due_at for r in plan([WORKER])}
    # 09:00 WITA (UTC+8) a week before the first day is 01:00 UTC
    assert by_kind["workshop_in_7_days"] == datetime(2027, 3, 15, 1, 0, tzinfo=timezone.utc)
    assert by_kind["workshop_day_1_morning"] == datetime(2027, 3, 21, 22, 30, tzinfo=timezone.utc)
    assert by_kind["workshop_day_2_morning"] == datetime(2027, 3, 22, 22, 30, tzinfo=timezone.utc)
    assert by_kind["registration_confirmation"] == NOW


def test_nobody_without_consent_or_address_is_reminded():
    silent = {**WORKER, "participant_id": "p3", "consent_to_reminders": False}
    unreachable = {**WORKER, "participant_id": "p4", "phone": None}
    assert plan([silent, unreachable]) == []


def test_nothing_is_planned_in_the_past_and_keys_are_stable():
    late = plan_workshop_reminders("reg-1", [date(2027, 3, 5), date(2027, 3, 6)], "Asia/Jakarta",
                                   [WORKER], NOW)
    assert "workshop_in_7_days" not in {r.kind for r in late}
    assert [r.key for r in plan([WORKER])] == [r.key for r in plan([WORKER])]
    assert len({r.key for r in plan([WORKER, MANAGER])}) == len(plan([WORKER, MANAGER]))
