"""Reporting's RPC replies."""
from marshmallow import Schema, fields


class ParticipantsBySexSchema(Schema):
    women = fields.Integer()
    men = fields.Integer()


class EnrollmentCountsSchema(Schema):
    enrollments = fields.Integer()
    enterprises = fields.Integer()
    participants = fields.Nested(ParticipantsBySexSchema)
    by_module = fields.Dict(keys=fields.String(), values=fields.Integer())
