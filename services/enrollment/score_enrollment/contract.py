"""The partner contract, version 1: what a partner system submits and what it is answered.

This module is the single source of the contract: the service validates with these schemas,
docs/partners/schemas/*.json are exported from them (`score-partner schemas`), and
docs/partners.md explains them. Every rejection names each offending field as a path
(`enterprise.contact.phone`, `team[1].email`) with the reason.
"""
from __future__ import annotations

import functools
import re
from datetime import date, timedelta

import phonenumbers
from marshmallow import (
    RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema,
)

from score_common.contracts.common import LANGUAGES, SEXES, TEAM_ROLES
from score_common.errors import field_errors
from score_common.indonesia import MODULES, PROVINCES

SCHEMA_VERSIONS = (1,)
CONTENT_TYPE = "application/json"
MAX_SUBMISSION_BYTES = 256 * 1024
MAX_TEAM = 30
MAX_WORKFORCE = 100_000
MAX_PERIOD = timedelta(days=366)
MAX_LEAD = timedelta(days=2 * 366)

# Sectors as programme reports group them (the seeds name auto parts, garments, printing,
# medical equipment, hydroponic farming, guitars, spa, hospitality...).
SECTORS = {
    "agriculture_horticulture": "Agriculture and horticulture (incl. hydroponic farming)",
    "automotive_parts": "Automotive parts and components",
    "chemicals_plastics": "Chemicals, rubber and plastics",
    "construction_materials": "Construction materials",
    "electronics": "Electronics and electrical equipment",
    "food_beverage": "Food and beverage processing",
    "footwear_leather": "Footwear and leather goods",
    "furniture_wood": "Furniture and wood products",
    "garments_textiles": "Garments and textiles",
    "handicrafts": "Handicrafts",
    "hospitality_tourism": "Hotels, restaurants and tourism",
    "medical_equipment": "Medical equipment and medical garments",
    "metal_machinery": "Metal products and machinery",
    "musical_instruments": "Musical instruments (e.g. guitars)",
    "printing_packaging": "Printing, publishing and packaging",
    "wellness_spa": "Spa and wellness",
    "other": "Other manufacturing or services",
}

# Statistics Indonesia (BPS) size classes by persons employed.
SIZE_CLASSES = ((1, "micro"), (5, "small"), (20, "medium"), (100, "large"))

NIB_DIGITS = 13
_NIB_SEPARATORS = re.compile(r"[\s.\-/]")
_PROVINCE_BY_NAME = {p.name.lower(): p.code for p in PROVINCES.values()}


def size_class(workforce_total: int) -> str:
    label = SIZE_CLASSES[0][1]
    for minimum, name in SIZE_CLASSES:
        if workforce_total >= minimum:
            label = name
    return label


def normalise_mobile(value: str) -> str:
    """An Indonesian mobile number in E.164 (+628...), or ValueError saying what is wrong."""
    try:
        number = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc._msg}); write it as +62 812 3456 7890 "
                         "or 0812 3456 7890") from None
    if number.country_code != 62:
        raise ValueError(f"must be an Indonesian number (+62), got +{number.country_code}")
    # number_type is UNKNOWN for a number that fits no pattern of +62: is_valid_number would
    # match the same patterns a second time.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValueError("not a valid Indonesian number (check the number of digits)")
    if kind not in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValueError("must be a mobile number (+62 8...) that can receive SMS; "
                         "this is a landline")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class IndonesianMobile(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_mobile(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class RegistrationNumber(fields.String):
    """The NIB (Nomor Induk Berusaha) that OSS issues every Indonesian business: 13 digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = _NIB_SEPARATORS.sub("", super()._deserialize(value, attr, data, **kwargs))
        if not text.isdigit() or len(text) != NIB_DIGITS:
            raise ValidationError(
                f"must be the enterprise's {NIB_DIGITS}-digit NIB (Nomor Induk Berusaha) from "
                f"OSS, such as 8120001234567; got {len(text)} characters"
                + ("" if text.isdigit() else " that are not all digits"))
        return text


class ProvinceCode(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        code = text.upper()
        if code in PROVINCES:
            return code
        named = _PROVINCE_BY_NAME.get(text.lower().removeprefix("provinsi ").strip())
        if named:
            raise ValidationError(f"use the ISO 3166-2:ID code: {text} is {named}")
        raise ValidationError("must be the ISO 3166-2:ID code of one of Indonesia's 38 "
                              "provinces, such as ID-JK (DKI Jakarta) or ID-JB (Jawa Barat)")


class StrictBoolean(fields.Boolean):
    """JSON true or false only: 1, "yes" or "true" are more likely mistakes than consent."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class StrictSchema(Schema):
    """Unknown fields are refused: a misspelt field must not be silently dropped."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown field (check its spelling against the contract)",
                      "type": "must be a JSON object"}


def _text(minimum=1, maximum=200, **kwargs):
    return fields.String(validate=validate.Length(min=minimum, max=maximum), **kwargs)


class WorkforceSchema(StrictSchema):
    women = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=0, max=MAX_WORKFORCE))
    men = fields.Integer(required=True, strict=True,
                         validate=validate.Range(min=0, max=MAX_WORKFORCE))

    @validates_schema
    def somebody_works_there(self, data, **kwargs):
        if data.get("women", 0) + data.get("men", 0) < 1:
            raise ValidationError("women and men together must be at least 1", "_schema")


class ContactSchema(StrictSchema):
    name = _text(required=True)
    email = fields.Email(required=True, error_messages={"invalid": "not a valid email address"})
    phone = IndonesianMobile(required=True)


class EnterpriseSchema(StrictSchema):
    name = _text(2, 200, required=True)
    registration_number = RegistrationNumber(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(
        sorted(SECTORS), error="must be one of: {choices}"))
    province = ProvinceCode(required=True)
    district = _text(2, 100, required=True)
    workforce = fields.Nested(WorkforceSchema, required=True)
    contact = fields.Nested(ContactSchema, required=True)

    @pre_load
    def trim(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return data


class TeamMemberSchema(StrictSchema):
    name = _text(required=True)
    role = fields.String(required=True, validate=validate.OneOf(TEAM_ROLES))
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    phone = IndonesianMobile(load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True,
                         error_messages={"invalid": "not a valid email address"})
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))
    consent_to_reminders = StrictBoolean(required=True)

    @validates_schema
    def reachable(self, data, **kwargs):
        if not data.get("phone") and not data.get("email"):
            raise ValidationError("needs a phone or an email (or both) for reminders", "_schema")


class PeriodSchema(StrictSchema):
    start = fields.Date(required=True, error_messages={"invalid": "must be a date as YYYY-MM-DD"})
    end = fields.Date(required=True, error_messages={"invalid": "must be a date as YYYY-MM-DD"})

    @validates_schema
    def sensible(self, data, **kwargs):
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return
        today = self.today if self.today else date.today()
        errors = {}
        if start < today:
            errors["start"] = [f"must not be in the past (today is {today.isoformat()})"]
        elif start > today + MAX_LEAD:
            errors["start"] = ["must be within two years from today"]
        if end < start:
            errors["end"] = ["must not be before start"]
        elif end - start > MAX_PERIOD:
            errors["end"] = ["the period may span at most one year"]
        if errors:
            raise ValidationError(errors)

    today: date | None = None


class SubmissionSchema(StrictSchema):
    """A partner's submission: one enterprise's team enrolling in one SCORE module."""

    schema_version = fields.Integer(required=True, strict=True, validate=validate.OneOf(
        SCHEMA_VERSIONS, error="unsupported version {input}; this platform accepts {choices}"))
    module = fields.Integer(required=True, strict=True, validate=validate.OneOf(
        sorted(MODULES), error="must be a SCORE module number, 1 to 5"))
    enterprise = fields.Nested(EnterpriseSchema, required=True)
    team = fields.List(fields.Nested(TeamMemberSchema), required=True,
                       validate=validate.Length(min=2, max=MAX_TEAM,
                                                error="needs {min} to {max} members"))
    preferred_period = fields.Nested(PeriodSchema, required=True)

    def __init__(self, *args, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preferred_period"].schema.today = today

    @validates_schema
    def team_fits_the_enterprise(self, data, **kwargs):
        team = data.get("team") or []
        errors = {}
        roles = {member["role"] for member in team}
        missing = [role for role in TEAM_ROLES if role not in roles]
        if team and missing:
            errors["team"] = [f"needs at least one manager and one worker; no {missing[0]}"]
        workforce = (data.get("enterprise") or {}).get("workforce")
        if workforce and len(team) > workforce["women"] + workforce["men"]:
            errors.setdefault("team", []).append(
                f"has {len(team)} members but the workforce is "
                f"{workforce['women'] + workforce['men']}")
        seen = {}
        for index, member in enumerate(team):
            for channel in ("phone", "email"):
                value = member.get(channel)
                key = (channel, value.lower() if value else None)
                if value and key in seen:
                    errors[f"team[{index}].{channel}"] = [
                        f"same {channel} as team[{seen[key]}]; each member needs their own"]
                elif value:
                    seen[key] = index
        if errors:
            raise ValidationError(errors)

    @post_load
    def derived(self, data, **kwargs):
        workforce = data["enterprise"]["workforce"]
        data["enterprise"]["size"] = size_class(workforce["women"] + workforce["men"])
        return data


flatten_errors = field_errors


@functools.lru_cache(maxsize=4)
def _submission_schema(today: date | None) -> SubmissionSchema:
    # Building the schema (fields deep-copied, nested schemas made) costs more than a load;
    # a loaded schema keeps no state, so one per `today` serves every submission.
    return SubmissionSchema(today=today)


def validate_submission(document, today: date | None = None) -> tuple[dict | None, dict]:
    """(the normalised submission, {}) or (None, {field path: [reasons]})."""
    if not isinstance(document, dict):
        return None, {"_body": ["must be a JSON object"]}
    try:
        return _submission_schema(today).load(document), {}
    except ValidationError as exc:
        return None, flatten_errors(exc.messages)


class WarningSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field = fields.String(load_default=None, allow_none=True)


class OutcomeSchema(Schema):
    """What every submission is answered, over AMQP (the partner's outcome queue) and HTTP."""

    schema_version = fields.Integer(required=True)
    message_id = fields.String(required=True, metadata={
        "description": "The partner's message id (the idempotency key) this answers."})
    partner_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("accepted", "rejected")))
    enrollment_id = fields.String(allow_none=True)
    enterprise_id = fields.String(allow_none=True)
    status = fields.String(allow_none=True, metadata={
        "description": "The enrollment's status when answered."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "Each offending field path with its reasons; empty when accepted."})
    warnings = fields.List(fields.Nested(WarningSchema))
    channel = fields.String(validate=validate.OneOf(("amqp", "http", "csv")))
    received_at = fields.DateTime(required=True)
    answered_at = fields.DateTime(required=True)
    replayed = fields.Boolean(metadata={
        "description": "True when this answers a resubmission of an already answered message."})
