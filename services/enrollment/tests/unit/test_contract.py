"""The partner contract's rules, without servers: every bad input is named and explained."""
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from score_enrollment import contract, csv_upload, domain
from score_enrollment.examples import BAD_INPUTS, bad_body, valid_submission
from score_enrollment.intake import Intake, Receipt
from score_enrollment.json_schemas import build

TODAY = date(2027, 1, 10)
SCHEMAS = Path(__file__).resolve().parents[4] / "docs" / "partners" / "schemas"


def read(body: bytes, content_type="application/json", message_id="m-1"):
    receipt = Receipt(partner_id="bedo", message_id=message_id, channel="amqp", body=body,
                      content_type=content_type)
    return Intake(store=None, outbox=None, today=TODAY)._read(receipt)


def test_there_are_at_least_thirty_distinct_bad_inputs():
    assert len({bad.name for bad in BAD_INPUTS}) == len(BAD_INPUTS) >= 30


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[bad.name for bad in BAD_INPUTS])
def test_each_bad_input_is_answered_with_its_field_and_reason(bad):
    _, errors = read(bad_body(bad, valid_submission(today=TODAY)), bad.content_type)
    assert bad.field in errors, errors
    assert any(bad.reason.lower() in reason.lower() for reason in errors[bad.field]), errors


def test_a_valid_submission_is_normalised():
    document, errors = read(json.dumps(valid_submission(today=TODAY)).encode())
    assert errors == {}
    assert document["enterprise"]["contact"]["phone"] == "+6281234567890"
    assert [m["phone"] for m in document["team"]] == ["+6281234567890", "+6285712345678"]
    assert document["enterprise"]["size"] == "large"


def test_several_problems_are_all_named_at_once():
    document = valid_submission(today=TODAY)
    document["module"] = 0
    document["team"][1]["phone"] = "021 4890 1234"
    document["enterprise"]["province"] = "Bali"
    _, errors = read(json.dumps(document).encode())
    assert {"module", "team[1].phone", "enterprise.province"} <= set(errors)


def test_a_missing_message_id_is_named_alongside_the_body_problems():
    _, errors = read(json.dumps(valid_submission(today=TODAY)).encode(), message_id=None)
    assert "message_id" in errors


@pytest.mark.parametrize("workforce, size", [(1, "micro"), (4, "micro"), (5, "small"),
                                             (19, "small"), (20, "medium"), (100, "large")])
def test_size_classes_follow_statistics_indonesia(workforce, size):
    assert contract.size_class(workforce) == size


def test_names_that_differ_only_in_legal_form_and_punctuation_match():
    assert domain.name_key("PT. Tjokro Bersaudara, Tbk", "Pulogadung") == \
        domain.name_key("tjokro  bersaudara", "PULOGADUNG") == \
        domain.name_key("P.T. Tjokro Bersaudara", "Pulogadung")
    assert domain.name_key("Tjokro Bersaudara", "Depok") != \
        domain.name_key("Tjokro Bersaudara", "Pulogadung")


def test_api_keys_are_checked_against_their_digest_only():
    key_id, key = domain.new_api_key()
    digest = domain.api_key_digest(key)
    assert key not in digest and domain.parse_api_key(key) == key_id
    assert domain.key_matches(key, digest)
    assert not domain.key_matches(key[:-1] + ("A" if key[-1] != "A" else "B"), digest)
    assert domain.parse_api_key("Bearer nonsense") is None


def test_the_published_json_schemas_are_the_ones_the_service_enforces():
    for filename, document in build().items():
        published = json.loads((SCHEMAS / filename).read_text())
        assert published == json.loads(json.dumps(document)), (
            f"{filename} is stale: run `score-partner schemas docs/partners/schemas`")


def test_the_json_schema_accepts_the_example_and_refuses_unknown_fields():
    schema = json.loads((SCHEMAS / "submission-v1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = valid_submission(today=TODAY)
    validator.validate(document)
    document["enterprise"]["registraton_number"] = "x"
    assert any("registraton_number" in e.message for e in validator.iter_errors(document))


CSV = """message_id,module,enterprise_name,registration_number,sector,province,district,\
workforce_women,workforce_men,contact_name,contact_email,contact_phone,preferred_start,\
preferred_end,member_name,member_role,member_sex,member_phone,member_email,member_language,\
member_consent
csv-1,1,PT Trijaya Teknik,8120009876543,automotive_parts,ID-JB,Karawang Timur,12,60,Ahmad,\
ahmad@trijaya.example.co.id,0812 1111 2222,2027-03-01,2027-04-30,Ahmad,manager,male,\
0812 1111 2222,ahmad@trijaya.example.co.id,id,yes
csv-1,,,,,,,,,,,,,,Dewi,worker,female,0813 2222 3333,,id,ya
csv-2,1,CV Lestari,8120005555555,garments_textiles,ID-JB,Depok,30,5,Rina,rina@lestari.example,\
0812 5555 6666,2027-03-01,2027-04-30,Rina,manager,female,0812 5555 6666,,id,maybe
csv-2,2,,,,,,,,,,,,,Yanto,worker,male,021 555 1234,,id,no
"""


def test_csv_rows_group_into_submissions_and_errors_land_on_their_line_and_column():
    groups = csv_upload.parse(CSV.encode())
    assert [g["message_id"] for g in groups] == ["csv-1", "csv-2"]
    first, second = groups
    assert first["rows"] == [2, 3] and len(first["document"]["team"]) == 2
    assert first["document"]["team"][0]["consent_to_reminders"] is True
    assert second["conflicts"] == {5: {"module": ["differs from line 4 of the same message_id "
                                                  "(1)"]}}
    _, errors = read(csv_upload.document_bytes(second))
    placed = csv_upload.errors_by_line(second, errors)
    assert "must be true or false" in placed[4]["member_consent"][0]
    assert "landline" in placed[5]["member_phone"][0]


@pytest.mark.parametrize("data, reason", [
    (b"name,role\nx,y\n", "missing column(s): member_name, member_role, message_id"),
    (b"message_id,member_name,member_role,colour\n1,a,b,c\n", "unknown column(s): colour"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
def test_an_unreadable_csv_is_refused_as_a_whole_with_the_reason(data, reason):
    with pytest.raises(csv_upload.CsvRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        csv_upload.parse(data)


def test_the_sample_file_is_the_documented_example():
    sample = Path(__file__).resolve().parents[4] / "samples" / "partner-enrollment.json"
    from score_enrollment.examples import VALID

    assert json.loads(sample.read_text()) == VALID
