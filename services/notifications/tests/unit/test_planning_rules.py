"""Who is reached how and when: routing, local hours, quiet hours, staleness."""
from datetime import date, datetime, time, timedelta, timezone

import pytest

from score_notifications import domain
from score_notifications.domain import Recipient
from score_notifications.planner import Planner

NOW = datetime(2027, 3, 1, 3, 0, tzinfo=timezone.utc)


def person(role="worker", phone="+6281234567890", email=None, consent=True):
    return Recipient("p-1", "Budi", role, phone, email, "id", consent)


@pytest.mark.parametrize("recipient, channel, address, alternate", [
    (person("manager", email="m@example.co.id"), "email", "m@example.co.id",
     {}),  # managers read email; an email never falls back to SMS
    (person("worker", email="w@example.co.id"), "sms", "+6281234567890",
     {"channel": "email", "address": "w@example.co.id"}),
    (person("worker", phone="0812-3456-7890"), "sms", "+6281234567890", {}),  # normalised
    (person("manager", email=None), "sms", "+6281234567890", {}),  # no email: SMS
    (person("worker", phone="+62 12", email="w@example.co.id"), "email", "w@example.co.id", {}),
])
def test_each_recipient_is_routed_to_their_channel(recipient, channel, address, alternate):
    route = domain.route(recipient)
    assert (route.channel, route.address, route.alternate) == (channel, address, alternate)


@pytest.mark.parametrize("phone, email, reason", [
    ("+62 12", None, "not a valid number"),
    ("+62215551234", None, "not a mobile number"),  # a Jakarta landline cannot get SMS
    (None, "not-an-email", "is not an email address"),
    (None, None, "no phone and no email"),
])
def test_a_recipient_without_a_usable_address_is_undeliverable_with_the_reason(
        phone, email, reason):
    [message] = Planner(NOW).notice("s-1", [person(phone=phone, email=email)], "report_ready",
                                    "Asia/Jakarta", {}, NOW)
    assert message.status == "undeliverable" and reason in message.reason


def test_nobody_without_consent_is_planned():
    assert Planner(NOW).notice("s-1", [person(consent=False)], "report_ready",
                               "Asia/Jakarta", {}, NOW) == []


def test_reminders_are_at_local_hours_in_the_venues_zone_and_only_ahead():
    days = [date(2027, 3, 23), date(2027, 3, 22)]
    moments = dict(domain.workshop_moments(days, "Asia/Makassar", NOW))  # WITA, UTC+8
    assert moments == {
        "workshop_in_7_days": datetime(2027, 3, 15, 1, 0, tzinfo=timezone.utc),
        "workshop_tomorrow": datetime(2027, 3, 21, 1, 0, tzinfo=timezone.utc),
        "workshop_day_1_morning": datetime(2027, 3, 21, 22, 30, tzinfo=timezone.utc),
        "workshop_day_2_morning": datetime(2027, 3, 22, 22, 30, tzinfo=timezone.utc)}
    late = datetime(2027, 3, 20, 0, 0, tzinfo=timezone.utc)
    assert [k for k, _ in domain.workshop_moments(days, "Asia/Makassar", late)] == [
        "workshop_tomorrow", "workshop_day_1_morning", "workshop_day_2_morning"]


def test_keys_are_stable_for_the_same_send_and_differ_otherwise():
    key = domain.message_key("reg-1", "p-1", "workshop_tomorrow", NOW)
    assert key == domain.message_key("reg-1", "p-1", "workshop_tomorrow",
                                     NOW.astimezone(timezone(timedelta(hours=7))))
    assert key != domain.message_key("reg-1", "p-1", "workshop_tomorrow",
                                     NOW + timedelta(days=7))
    assert key != domain.message_key("reg-1", "p-2", "workshop_tomorrow", NOW)


@pytest.mark.parametrize("local, expected", [
    ("2027-03-01T20:59:00", None),
    ("2027-03-01T21:00:00", "2027-03-02T06:00:00"),
    ("2027-03-01T23:30:00", "2027-03-02T06:00:00"),
    ("2027-03-02T05:59:00", "2027-03-02T06:00:00"),
    ("2027-03-02T06:00:00", None),
])
def test_an_sms_in_quiet_hours_waits_for_their_end_in_the_recipients_zone(local, expected):
    zone = "Asia/Jayapura"
    from zoneinfo import ZoneInfo
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
    until = domain.quiet_until(moment, zone, (time(21), time(6)))
    assert until == (None if expected is None else datetime.fromisoformat(expected).replace(
        tzinfo=ZoneInfo(zone)))


def test_quiet_hours_are_read_from_configuration():
    assert domain.parse_quiet_hours("22:00-05:30") == (time(22), time(5, 30))
    with pytest.raises(ValueError, match="21:00-06:00"):
        domain.parse_quiet_hours("night")


def test_retries_back_off_then_give_up():
    waits = [domain.retry_at(n, NOW) - NOW for n in range(1, len(domain.RETRY_BACKOFF) + 1)]
    assert waits == sorted(waits) and waits[0] == timedelta(seconds=30)
    assert domain.retry_at(len(domain.RETRY_BACKOFF) + 1, NOW) is None
