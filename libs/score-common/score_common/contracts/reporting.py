"""Events produced by the reporting service."""
from marshmallow import fields

from score_common.contracts import registry
from score_common.contracts.common import ParticipantSchema, PayloadSchema, module_field

PRODUCER = "reporting"

SAMPLE_REPORT_READY = {
    "report_id": "rep-enr-0001", "enrollment_id": "enr-0001", "enterprise_id": "ent-0001",
    "enterprise_name": "PT Tjokro Bersaudara", "partner_id": "bedo", "module": 1,
    "timezone": "Asia/Jakarta", "url": "https://score.example.org/reports/rep-enr-0001.pdf",
    "recipients": [
        {"participant_id": "p-1", "name": "Budi Santoso", "role": "manager", "sex": "male",
         "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
         "consent_to_reminders": True}],
}


@registry.register(PRODUCER, "report_ready", 1, SAMPLE_REPORT_READY)
class ReportReadyV1(PayloadSchema):
    """An enterprise's report is written: where to fetch it, and whom to tell."""

    report_id = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    partner_id = fields.String(required=True)
    module = module_field(required=True)
    timezone = fields.String(load_default="Asia/Jakarta")
    url = fields.String(required=True)
    recipients = fields.List(fields.Nested(ParticipantSchema), required=True)
