"""Reminders planned from events and sent at their local hour, each exactly once."""
from datetime import datetime, timezone

import icalendar

from score_common.contracts import registry
from score_common.contracts.scheduling import SAMPLE_PARTICIPANT_REGISTERED
from score_common.testing import wait_until

MANAGER = {"participant_id": "p-budi", "name": "Budi Santoso", "role": "manager", "sex": "male",
           "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
           "consent_to_reminders": True}
WORKER = {"participant_id": "p-siti", "name": "Siti Rahayu", "role": "worker", "sex": "female",
          "phone": "+6281298765432", "email": None, "language": "en",
          "consent_to_reminders": True}
SILENT = {**WORKER, "participant_id": "p-dewi", "name": "Dewi", "phone": "+6281311112222",
          "consent_to_reminders": False}
UNREACHABLE = {**WORKER, "participant_id": "p-agus", "name": "Agus", "phone": "+62 12",
               "language": "id"}
TEAM = [MANAGER, WORKER, SILENT, UNREACHABLE]


def registered(participants=TEAM, **changes):
    return registry.build("participant_registered", {
        **SAMPLE_PARTICIPANT_REGISTERED, "participants": participants, **changes},
        producer="scheduling")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_a_registration_is_confirmed_with_its_calendar_and_reminded_at_local_hours_once(
        notifications, publisher, sinks):
    config, rpc, make_dispatcher = notifications
    event = registered()
    publisher.publish_event(event)
    publisher.publish_event(event)  # a redelivery plans nothing twice

    # the service's own timer sends the confirmations (its clock is T0, 10:00 WIB)
    [mail] = wait_until(lambda: [m for m in sinks.mail() if "budi@" in m["to"]] or None,
                        what="the manager's confirmation email")
    [text] = wait_until(lambda: [t for t in sinks.texts() if t["to"] == WORKER["phone"]]
                        or None, what="the worker's confirmation SMS")
    assert mail["subject"].startswith("Pendaftaran lokakarya SCORE: Modul 1")
    assert "Senin, 22 Maret 2027, 08.00 WIB" in mail["text"]
    assert "<b>Modul 1: Kerja Sama di Tempat Kerja</b>" in mail["html"]
    [ics] = mail["attachments"]
    calendar = icalendar.Calendar.from_ical(ics["content"])
    assert str(calendar["method"]) == "REQUEST"
    uids = sorted(str(e["uid"]) for e in calendar.walk("VEVENT"))
    assert uids == ["ws-0001-day1@score.ilo.org", "ws-0001-day2@score.ilo.org"]
    assert text["text"].startswith("SCORE: Dear Siti Rahayu, you are registered")  # English
    assert "08:00 WIB" in text["text"]

    log = rpc.delivery_log(workshop_id="ws-0001")
    assert {m["recipient_id"] for m in log} == {"p-budi", "p-siti", "p-agus"}  # not p-dewi
    assert {m["status"] for m in log if m["recipient_id"] == "p-agus"} == {"undeliverable"}
    assert "not a valid number" in rpc.delivery_log(recipient_id="p-agus")[0]["reason"]
    kinds = [m["kind"] for m in rpc.delivery_log(recipient_id="p-siti")]
    assert kinds == ["registration_confirmation", "workshop_in_7_days", "workshop_tomorrow",
                     "workshop_day_1_morning", "workshop_day_2_morning"]
    # the delivery report comes back through the provider's callback
    wait_until(lambda: rpc.delivery_log(recipient_id="p-siti")[0]["status"] == "delivered",
               what="the SMS delivery report")

    # a week before, at 09:00 in the venue's zone; a second sweep sends nothing again
    dispatcher = make_dispatcher()
    assert dispatcher.sweep(at("2027-03-15T08:59:00+07:00")).sent == 0
    assert dispatcher.sweep(at("2027-03-15T09:00:30+07:00")).sent == 2
    assert make_dispatcher().sweep(at("2027-03-15T09:01:00+07:00")).sent == 0
    week_before = [t for t in sinks.texts() if t["to"] == WORKER["phone"]]
    assert len(week_before) == 2 and "in 7 days" in week_before[1]["text"]
    assert len([m for m in sinks.mail() if "budi@" in m["to"]]) == 2
    assert dispatcher.sweep(at("2027-03-21T09:00:30+07:00")).sent == 2  # the day before
    # nothing swept on the first morning: that reminder expires rather than arrive late
    tally = dispatcher.sweep(at("2027-03-23T06:30:10+07:00"))
    assert (tally.sent, tally.expired) == (2, 2)  # the manager by email, the worker by SMS
    texts = [t["text"] for t in sinks.texts() if t["to"] == WORKER["phone"]]
    assert len(texts) == 4 and "Today is day 2" in texts[-1]
    statuses = {m["kind"]: m["status"] for m in rpc.delivery_log(recipient_id="p-siti")}
    assert statuses["workshop_day_1_morning"] == "expired"
