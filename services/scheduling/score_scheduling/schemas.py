"""Scheduling's commands (what staff send) and replies, as marshmallow schemas."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from score_common.commands import Command
from score_common.contracts.common import (
    LANGUAGES, module_field, programme_field, province_field,
)
from score_common.indonesia import PROVINCES
from score_scheduling import domain


def code_field(**kwargs):
    return fields.String(validate=validate.Regexp(
        domain.CODE, error="lowercase letters, digits and hyphens, 2 to 41 characters"),
        **kwargs)


class UnavailableSchema(Command):
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    reason = fields.String(load_default="unavailable", validate=validate.Length(max=200))

    @validates_schema
    def ordered(self, data, **kwargs):
        if data["end"] < data["start"]:
            raise ValidationError({"end": ["must not be before start"]})


class TrainerCommand(Command):
    code = code_field(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    partner_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    modules = fields.List(module_field(), required=True,
                          validate=validate.Length(min=1, error="certified for at least one"))
    provinces = fields.List(province_field(), required=True, validate=validate.Length(min=1))
    unavailable = fields.List(fields.Nested(UnavailableSchema), load_default=list)
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))


class VenueCommand(Command):
    code = code_field(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    province = province_field(required=True)
    district = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(load_default=None, allow_none=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=2))


class WorkshopCommand(Command):
    workshop_id = fields.String(load_default=None, validate=validate.Length(max=100))
    kind = fields.String(load_default="module", validate=validate.OneOf(domain.WORKSHOP_KINDS))
    programme = programme_field()
    module = module_field(required=True)
    venue_id = fields.String(required=True)
    days = fields.List(fields.Date(), required=True)
    trainer_ids = fields.List(fields.String(), required=True,
                              validate=validate.Length(min=1, error="at least one trainer"))
    partner_id = fields.String(required=True)
    capacity_enterprises = fields.Integer(required=True, strict=True)
    capacity_seats = fields.Integer(required=True, strict=True)
    starts = fields.Time(load_default=domain.DEFAULT_START)
    ends = fields.Time(load_default=domain.DEFAULT_END)

    cohort_of = fields.String(load_default=None)

    @validates_schema
    def hours(self, data, **kwargs):
        if data.get("starts") and data.get("ends") and data["ends"] <= data["starts"]:
            raise ValidationError({"ends": ["must be after starts"]})

    @validates_schema
    def cohort(self, data, **kwargs):
        if data.get("kind") == "results" and not data.get("cohort_of"):
            raise ValidationError({"cohort_of": [
                "a results workshop names the module workshop whose cohort presents"]})
        if data.get("kind") == "module" and data.get("cohort_of"):
            raise ValidationError({"cohort_of": ["only a results workshop has a cohort"]})


class RescheduleCommand(Command):
    days = fields.List(fields.Date(), required=True)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    trainer_ids = fields.List(fields.String(), load_default=None,
                              validate=validate.Length(min=1, error="at least one trainer"))
    starts = fields.Time(load_default=domain.DEFAULT_START)
    ends = fields.Time(load_default=domain.DEFAULT_END)


class AttendanceRecord(Command):
    participant_id = fields.String(required=True)
    day = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(domain.ATTENDANCE))


class AttendanceCommand(Command):
    records = fields.List(fields.Nested(AttendanceRecord), required=True,
                          validate=validate.Length(min=1, max=2000))


class CancelCommand(Command):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class TrainerSchema(Schema):
    trainer_id = fields.String(attribute="pk")
    name = fields.String()
    partner_id = fields.String()
    modules = fields.List(fields.Integer())
    provinces = fields.List(fields.String())
    unavailable = fields.List(fields.Dict())
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    language = fields.String()
    active = fields.Boolean()


class VenueSchema(Schema):
    venue_id = fields.String(attribute="pk")
    name = fields.String()
    province = fields.String()
    province_name = fields.Function(lambda v: PROVINCES[v.province].name)
    district = fields.String()
    address = fields.String(allow_none=True)
    capacity = fields.Integer()


class WorkshopSchema(Schema):
    workshop_id = fields.String(attribute="pk")
    kind = fields.String()
    programme = fields.String()
    module = fields.Integer()
    revision = fields.Integer()
    province = fields.String()
    district = fields.String(allow_none=True)
    timezone = fields.String()
    days = fields.List(fields.Date())
    sessions = fields.Method("local_sessions")
    venue_id = fields.String()
    trainer_ids = fields.List(fields.String())
    partner_id = fields.String()
    capacity_enterprises = fields.Integer()
    capacity_seats = fields.Integer()
    enterprises_registered = fields.Function(lambda w: len(w.holders))
    seats_taken = fields.Integer()
    status = fields.String()
    attendance = fields.Dict()
    coaching = fields.Dict()
    results_due = fields.Boolean()
    cohort_of = fields.String(allow_none=True)

    def local_sessions(self, workshop):
        return [{"day": s["day"] if isinstance(s["day"], str) else s["day"].isoformat(),
                 "starts_at": s["starts_at"].isoformat(), "ends_at": s["ends_at"].isoformat(),
                 "local_start": domain.local_time(s["starts_at"], workshop.province).isoformat(),
                 "local_end": domain.local_time(s["ends_at"], workshop.province).isoformat()}
                for s in workshop.sessions]


class RegistrationSchema(Schema):
    registration_id = fields.String(attribute="pk")
    enrollment_id = fields.String()
    enterprise_id = fields.String()
    partner_id = fields.String()
    module = fields.Integer(allow_none=True)
    province = fields.String(allow_none=True)
    workshop_id = fields.String(allow_none=True)
    status = fields.String()
    participants = fields.List(fields.Dict())
