"""Reminders planned from events alone and sent at their local hour, through a real SMTP
server and a real HTTP SMS provider stand-in: each exactly once, never after a cancellation,
never twice after a crash; failures retry, fall back or are recorded with their reason."""
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
import requests

from score_common.contracts import registry
from score_common.contracts.coaching import SAMPLE_VISIT_OVERDUE, SAMPLE_VISIT_SCHEDULED
from score_common.contracts.enrollment import SAMPLE_PARTNER_REGISTERED
from score_common.contracts.reporting import SAMPLE_REPORT_READY
from score_common.contracts.scheduling import (
    SAMPLE_PARTICIPANT_REGISTERED, SAMPLE_TRAINER_REGISTERED, SAMPLE_WORKSHOP_CANCELLED,
    SAMPLE_WORKSHOP_SCHEDULED,
)
from score_common.testing import handled, wait_until
from score_notifications.dispatcher import LEASE

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


def moved(revision: int, days: list[str], reason: str, participants=TEAM[:2]):
    sessions = [{"day": d, "starts_at": f"{d}T01:00:00+00:00", "ends_at": f"{d}T09:00:00+00:00"}
                for d in days]
    return registry.build("workshop_rescheduled", {
        "workshop": {**SAMPLE_WORKSHOP_SCHEDULED, "workshop_id": "ws-0001", "days": days,
                     "sessions": sessions, "revision": revision},
        "previous_days": ["2027-03-22", "2027-03-23"], "reason": reason, "actor": "staff:rina",
        "registrations": [{"registration_id": "reg-0001", "enrollment_id": "enr-0001",
                           "enterprise_id": "ent-0001", "partner_id": "bedo",
                           "participants": participants}]}, producer="scheduling")


def test_reschedules_replace_the_reminders_and_a_cancellation_stops_them_all(
        notifications, publisher, sinks):
    config, rpc, make_dispatcher = notifications
    publisher.publish_event(registered(TEAM[:2]))
    wait_until(lambda: len(rpc.reminders_for("reg-0001")) == 10, what="the first plan")
    first, second = moved(1, ["2027-03-29", "2027-03-30"], "the venue is flooded"), \
        moved(2, ["2027-04-05", "2027-04-06"], "the trainer is ill")
    publisher.publish_event(first)
    wait_until(lambda: [m for m in sinks.mail() if m["subject"].startswith("Jadwal baru")],
               what="the first new-dates email")
    publisher.publish_event(second)
    publisher.publish_event(moved(1, ["2027-03-29", "2027-03-30"], "late news, same move"))

    def planned():
        return {m["kind"]: m["due_at"] for m in rpc.reminders_for("reg-0001")
                if m["status"] == "planned" and m["recipient_id"] == "p-siti"
                and m["kind"] not in ("workshop_rescheduled", "workshop_cancelled")}
    wait_until(lambda: planned().get("workshop_tomorrow", "").startswith("2027-04-04"),
               what="the reminders of the second move")
    # only the latest dates are planned; a stale move changed nothing
    assert sorted(planned()) == ["workshop_day_1_morning", "workshop_day_2_morning",
                                 "workshop_in_7_days", "workshop_tomorrow"]
    notices = wait_until(lambda: (lambda found: found if len(found) == 2 else None)(
        [m for m in sinks.mail() if m["subject"].startswith("Jadwal baru")]),
        what="two new-dates emails")
    latest = icalendar.Calendar.from_ical(notices[-1]["attachments"][0]["content"])
    [day1] = [e for e in latest.walk("VEVENT") if "day1" in str(e["uid"])]
    assert int(day1["sequence"]) == 2 and day1.decoded("dtstart").date().isoformat() == \
        "2027-04-05"

    publisher.publish_event(registry.build("workshop_cancelled", {
        **SAMPLE_WORKSHOP_CANCELLED, "workshop_id": "ws-0001", "days": ["2027-04-05", "2027-04-06"],
        "registrations": [{"registration_id": "reg-0001", "enrollment_id": "enr-0001",
                           "enterprise_id": "ent-0001", "partner_id": "bedo",
                           "participants": TEAM[:2]}]}, producer="scheduling"))
    [cancelled] = wait_until(lambda: [m for m in sinks.mail() if m["subject"].startswith(
        "Dibatalkan")] or None, what="the cancellation email")
    calendar = icalendar.Calendar.from_ical(cancelled["attachments"][0]["content"])
    assert str(calendar["method"]) == "CANCEL"
    assert {str(e["status"]) for e in calendar.walk("VEVENT")} == {"CANCELLED"}
    wait_until(lambda: not planned(), what="every reminder cancelled")
    texts_before = len(sinks.texts())
    # every moment of every plan passes: nothing more is sent
    dispatcher = make_dispatcher()
    for moment in ("2027-03-15T09:00:30", "2027-03-22T06:30:30", "2027-03-29T09:00:30",
                   "2027-04-04T09:00:30", "2027-04-05T06:30:30", "2027-04-06T06:30:30"):
        assert dispatcher.sweep(at(moment + "+07:00")).sent == 0
    assert len(sinks.texts()) == texts_before
    kinds = {m["kind"]: m["status"] for m in rpc.reminders_for("reg-0001")
             if m["recipient_id"] == "p-siti"}
    assert kinds["workshop_cancelled"] in ("sent", "delivered")

WEEK_BEFORE = at("2027-03-15T09:00:30+07:00")
AFTER_LEASE = WEEK_BEFORE + LEASE + timedelta(minutes=2)


class Killed(BaseException):
    """The process dies here (not an Exception: nothing may catch it)."""


def planned(rpc, publisher, participants=(MANAGER, WORKER)):
    publisher.publish_event(registered(list(participants)))
    wait_until(lambda: len(rpc.reminders_for("reg-0001")) == 5 * len(participants),
               what="the reminders planned")
    # the confirmations go at T0 from the service's own timer
    wait_until(lambda: all(m["status"] != "planned" for m in rpc.reminders_for("reg-0001")
                           if m["kind"] == "registration_confirmation"),
               what="the confirmations sent")


def week_before(rpc, recipient_id):
    return next(m for m in rpc.delivery_log(recipient_id=recipient_id)
                if m["kind"] == "workshop_in_7_days")


def count(sinks, kind_text):
    return len([t for t in sinks.texts() if kind_text in t["text"]]), \
        len([m for m in sinks.mail() if "minggu depan" in m["subject"]])


def test_killed_between_send_and_record_nothing_is_sent_twice(notifications, publisher, sinks,
                                                                monkeypatch):
    config, rpc, make_dispatcher = notifications
    planned(rpc, publisher)
    doomed = make_dispatcher(reports=False)  # no delivery report to settle it meanwhile

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(doomed.repository, "settle", die)
    with pytest.raises(Killed):
        doomed.sweep(WEEK_BEFORE)
    assert count(sinks, "in 7 days") == (1, 1)  # both went out; neither was recorded
    assert week_before(rpc, "p-siti")["status"] == "planned"
    # another dispatcher meanwhile: the dead one's claims still hold them
    assert make_dispatcher(reports=False).sweep(WEEK_BEFORE + timedelta(seconds=30)).sent == 0

    survivor = make_dispatcher(reports=False)  # a new process, after the claim's lease
    tally = survivor.sweep(AFTER_LEASE)
    assert (tally.recovered, tally.in_doubt) == (1, 1)
    survivor.sweep(AFTER_LEASE + timedelta(minutes=1))
    assert count(sinks, "in 7 days") == (1, 1)  # still once each
    assert week_before(rpc, "p-siti")["status"] in ("sent", "delivered")  # the provider has it
    doubt = week_before(rpc, "p-budi")
    assert doubt["status"] == "in_doubt" and "not resent" in doubt["reason"]


def test_killed_after_the_claim_and_before_the_send_it_is_sent_once(
        notifications, publisher, sinks, monkeypatch):
    config, rpc, make_dispatcher = notifications
    planned(rpc, publisher)
    doomed = make_dispatcher()

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(doomed.sms, "send_many", die)
    with pytest.raises(Killed):
        doomed.sweep(WEEK_BEFORE)
    assert count(sinks, "in 7 days") == (0, 0)
    survivor = make_dispatcher()
    survivor.sweep(AFTER_LEASE)  # recovered: the provider never had the SMS
    survivor.sweep(AFTER_LEASE + timedelta(minutes=1))
    assert count(sinks, "in 7 days") == (1, 1)
    assert week_before(rpc, "p-siti")["status"] in ("sent", "delivered")


def test_a_provider_outage_is_retried_with_backoff(notifications, publisher, sinks):
    config, rpc, make_dispatcher = notifications
    planned(rpc, publisher, [WORKER])
    sinks.control(outage=2)
    dispatcher = make_dispatcher()
    assert dispatcher.sweep(WEEK_BEFORE).retried == 1
    assert dispatcher.sweep(WEEK_BEFORE + timedelta(seconds=10)).sent == 0  # not yet
    assert dispatcher.sweep(WEEK_BEFORE + timedelta(seconds=31)).retried == 1  # 503 again
    assert dispatcher.sweep(WEEK_BEFORE + timedelta(minutes=3)).sent == 1
    message = week_before(rpc, "p-siti")
    assert message["attempts"] == 3
    assert [h["status"] for h in message["history"]][-3:] == ["retry", "retry", "sent"]
    assert "HTTP 503" in message["history"][-3]["detail"]


def test_a_failed_sms_falls_back_to_email_and_bad_addresses_are_recorded(
        notifications, publisher, sinks):
    config, rpc, make_dispatcher = notifications
    rejected = {**WORKER, "participant_id": "p-rejected", "phone": "+6281200000001",
                "email": "rejected@example.co.id"}
    lost = {**WORKER, "participant_id": "p-lost", "phone": "+6281200000002",
            "email": "lost@example.co.id"}
    refused = {**MANAGER, "participant_id": "p-refused", "email": "nobody@example.co.id"}
    sinks.control(reject=[rejected["phone"]], undeliverable=[lost["phone"]],
                  refuse_mail=[refused["email"]])
    publisher.publish_event(registered([rejected, lost, refused]))
    wait_until(lambda: len(rpc.reminders_for("reg-0001")) >= 15, what="the plan")

    def log(recipient):
        return rpc.delivery_log(recipient_id=recipient)

    # refused by the provider at once: failed, and the email goes instead
    wait_until(lambda: any(m["channel"] == "email" and m["status"] == "sent"
                           for m in log("p-rejected")), what="the fallback email")
    [failed] = [m for m in log("p-rejected") if m["channel"] == "sms"
                and m["kind"] == "registration_confirmation"]
    assert failed["status"] == "failed" and "Destination rejected" in failed["reason"]
    # accepted, then reported undeliverable by the provider: failed, then the email
    wait_until(lambda: any(m["channel"] == "email" and m["fallback_of"]
                           for m in log("p-lost")), what="the delivery report's fallback")
    [lost_sms] = [m for m in log("p-lost") if m["channel"] == "sms"
                  and m["kind"] == "registration_confirmation"]
    assert lost_sms["status"] == "failed" and "UNDELIVERABLE" in lost_sms["reason"]
    wait_until(lambda: [m for m in sinks.mail() if "lost@" in m["to"]], what="email to p-lost")
    # a mailbox the server refuses: failed for good, with the server's words
    wait_until(lambda: log("p-refused")[0]["status"] == "failed", what="the refused email")
    assert log("p-refused")[0]["reason"].startswith("550")


def test_quiet_hours_defer_an_sms_and_stop_opts_out_until_start(notifications, publisher,
                                                                   sinks):
    config, rpc, make_dispatcher = notifications
    planned(rpc, publisher, [WORKER])
    dispatcher = make_dispatcher()

    def reminder(kind):
        return next(m for m in rpc.delivery_log(recipient_id="p-siti") if m["kind"] == kind)

    # nothing swept all day until 22:00 in Jakarta: the week-before SMS waits for 06:00
    assert dispatcher.sweep(at("2027-03-15T22:00:30+07:00")).deferred == 1
    deferred = reminder("workshop_in_7_days")
    assert deferred["status"] == "planned"
    assert deferred["due_at"].startswith("2027-03-15T23:00:00")  # 06:00 WIB
    assert dispatcher.sweep(at("2027-03-16T05:59:00+07:00")).sent == 0
    assert dispatcher.sweep(at("2027-03-16T06:00:30+07:00")).sent == 1
    assert [h["status"] for h in reminder("workshop_in_7_days")["history"]] == [
        "planned", "deferred", "sent"]

    inbound = (f"http://{config['WEB_SERVER_ADDRESS']}/notifications/sms/inbound/"
               f"{config['SCORE_CALLBACK_SECRET']}")
    body = {"results": [{"from": WORKER["phone"].lstrip("+"), "text": "STOP"}]}
    assert requests.post(inbound.replace(config["SCORE_CALLBACK_SECRET"], "guess"),
                         json=body, timeout=5).status_code == 404
    assert requests.post(inbound, json=body, timeout=5).json()["acted"] == [
        {"from": WORKER["phone"], "keyword": "STOP"}]
    assert dispatcher.sweep(at("2027-03-21T09:00:30+07:00")).suppressed == 1
    assert "opted out" in reminder("workshop_tomorrow")["reason"]

    requests.post(inbound, json={"results": [{"from": WORKER["phone"], "text": "MULAI"}]},
                  timeout=5)
    assert dispatcher.sweep(at("2027-03-22T06:30:30+07:00")).sent == 1
    texts = [t["text"] for t in sinks.texts() if t["to"] == WORKER["phone"]]
    assert len(texts) == 3 and "Today is day 1" in texts[-1]  # confirmation, week, day 1

def test_visits_remind_the_manager_and_the_trainer_and_follow_moves_in_any_order(
        notifications, publisher, sinks):
    config, rpc, make_dispatcher = notifications
    publisher.publish_event(registry.build("trainer_registered", {
        **SAMPLE_TRAINER_REGISTERED, "phone": "+6281311112222"}, producer="scheduling"))
    visit = {**SAMPLE_VISIT_SCHEDULED, "participants": [MANAGER, WORKER], "day": "2027-04-19"}

    def coaching(event_type, **payload):
        publisher.publish_event(registry.build(event_type, payload, producer="coaching"))

    coaching("visit_scheduled", **visit)
    wait_until(lambda: len(rpc.delivery_log(recipient_id="trn-siti")) == 1,
               what="the trainer's visit reminder")
    # moved to the 20th: the cancellation of the 19th arrives after the new plan
    coaching("visit_scheduled", **{**visit, "day": "2027-04-20"})
    wait_until(lambda: len(rpc.delivery_log(recipient_id="trn-siti")) == 2, what="the move")
    coaching("visit_cancelled", visit_id=visit["visit_id"], trainer_id="trn-siti",
             day="2027-04-19", reason="moved to 2027-04-20")
    wait_until(lambda: [m["status"] for m in rpc.delivery_log(recipient_id="trn-siti")] == [
        "cancelled", "planned"], what="the old day's reminder cancelled")
    manager = [m for m in rpc.delivery_log(recipient_id="p-budi") if m["visit_id"]]
    assert [m["status"] for m in manager] == ["cancelled", "planned"]  # the worker: none
    assert not [m for m in rpc.delivery_log(recipient_id="p-siti") if m["visit_id"]]

    # an overdue visit: the trainer is told at once (by the service's own timer)
    coaching("visit_overdue", **SAMPLE_VISIT_OVERDUE)
    [overdue] = wait_until(lambda: [t for t in sinks.texts() if "belum dicatat" in t["text"]]
                           or None, what="the overdue reminder to the trainer")
    assert "terlambat 3 hari" in overdue["text"]

    dispatcher = make_dispatcher()
    assert dispatcher.sweep(at("2027-04-19T09:00:30+07:00")).sent == 2  # the day before
    [text] = [t for t in sinks.texts() if t["to"] == "+6281311112222"
              and "belum dicatat" not in t["text"]]
    assert "Besok (Sel 20 Apr) kunjungan pendampingan 1/3 ke ent-0001" in text["text"]
    [email] = [m for m in sinks.mail() if "budi@" in m["to"]]
    assert "oleh pelatih Siti Rahayu" in email["text"]



def test_a_report_ready_notice_reaches_the_managers_and_the_partner(notifications, publisher,
                                                                    sinks):
    config, rpc, make_dispatcher = notifications
    partner = registry.build("partner_registered", SAMPLE_PARTNER_REGISTERED,
                             producer="enrollment")
    publisher.publish_event(partner)
    wait_until(lambda: handled(config, "notifications.handle_partner_registered",
                               partner["event_id"]), what="the partner's contact")
    publisher.publish_event(registry.build("report_ready", {
        **SAMPLE_REPORT_READY, "recipients": [MANAGER, {**MANAGER, "participant_id": "p-x",
                                                        "email": None, "phone": None}]},
        producer="reporting"))
    [mail] = wait_until(lambda: [m for m in sinks.mail() if "budi@" in m["to"]] or None,
                        what="the report email")
    assert SAMPLE_REPORT_READY["url"] in mail["text"] and "PT Tjokro" in mail["subject"]
    [told] = wait_until(lambda: [m for m in sinks.mail() if "programme@bedo" in m["to"]]
                        or None, what="the partner's email")
    assert "PT Tjokro" in told["subject"]
    [nowhere] = rpc.delivery_log(recipient_id="p-x")
    assert nowhere["status"] == "undeliverable" and "no phone and no email" in nowhere["reason"]
