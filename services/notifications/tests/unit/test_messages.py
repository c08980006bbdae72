"""Every message kind is written in both languages, and its SMS fits."""
import pytest

from score_common.contracts.scheduling import SAMPLE_PARTICIPANT_REGISTERED
from score_notifications import sms
from score_notifications.domain import KINDS
from score_notifications.planner import workshop_context
from score_notifications.templates import MAX_SMS_SEGMENTS, Templates

WORKSHOP = {**SAMPLE_PARTICIPANT_REGISTERED["workshop"], "module": 3,  # the longest title
            "venue": {"venue_id": "v", "name": "Balai Latihan Kerja Jakarta Timur",
                      "address": "Jl. Raya Bekasi Km 18, Pulogadung"}}
CONTEXT = {**workshop_context(WORKSHOP), "name": "Muhammad Rizky Pratama Wijayakusuma",
           "role": "manager", "day_number": 2, "reason": "the venue is flooded",
           "previous_days": ["2027-03-15"], "visit_id": "vis-enr-20270322-0001-3",
           "visit_day": "2027-04-13", "number": 3, "of": 3,
           "enterprise_id": "ent-3f2a9c", "trainer_name": "Siti Nurhaliza Rahayu",
           "days_overdue": 12, "enterprise_name": "PT Lestari Dini Tunggul",
           "url": "https://score.example.org/r/rep-enr-0001", "report_id": "rep-1"}


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("kind", [k if k != "workshop_day_morning" else "workshop_day_2_morning"
                                  for k in KINDS])
def test_every_kind_is_written_and_its_sms_fits_in_gsm7(kind, language):
    rendered = Templates().render(kind, language, "Asia/Makassar", CONTEXT)
    assert rendered.subject and rendered.text and "<p>" in rendered.html
    assert sms.encoding(rendered.sms) == "GSM-7", rendered.sms
    assert rendered.sms_segments <= MAX_SMS_SEGMENTS, (len(rendered.sms), rendered.sms)
    assert "{{" not in rendered.text


def test_dates_and_times_follow_the_language_and_the_zone():
    templates = Templates()
    indonesian = templates.render("workshop_in_7_days", "id", "Asia/Jayapura", CONTEXT)
    english = templates.render("workshop_in_7_days", "en", "Asia/Jakarta", CONTEXT)
    assert "Senin, 22 Maret 2027, 10.00 WIT" in indonesian.text  # 01:00 UTC is 10:00 WIT
    assert "Monday, March 22, 2027, 08:00 WIB" in english.text


def test_html_escapes_what_people_typed():
    rendered = Templates().render("report_ready", "en", "Asia/Jakarta",
                                  {**CONTEXT, "enterprise_name": "<script>x</script> & Co"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>x</script> & Co" in rendered.text


@pytest.mark.parametrize("text, encoding, segments", [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),   # extension characters take two septets
    ("€" * 81, "GSM-7", 2),
    ("a" * 69 + "’", "UCS-2", 1),  # one curly quote makes the whole text UCS-2
    ("a" * 70 + "’", "UCS-2", 2),
])
def test_sms_length_is_counted_in_segments_of_its_encoding(text, encoding, segments):
    assert (sms.encoding(text), sms.segments(text)) == (encoding, segments)


def test_stop_and_start_are_understood_in_both_languages():
    found = sms.inbound_messages({"results": [
        {"from": "6281234567890", "text": "stop"},
        {"from": "6281234567891", "cleanText": "BERHENTI kirim"},
        {"from": "6281234567892", "text": "Mulai"},
        {"from": "6281234567893", "text": "terima kasih"}]})
    assert [(m["from"], m["keyword"]) for m in found] == [
        ("+6281234567890", "STOP"), ("+6281234567891", "STOP"), ("+6281234567892", "START"),
        ("+6281234567893", None)]
