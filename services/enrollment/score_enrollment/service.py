"""The enrollment service: partner intake and the enterprise registry.

Accepts: partner submissions on the inbound queue <ns>.enrollment.intake (JSON, schema
version 1, the partner's message id as idempotency key, the partner proven by the broker's
validated user-id).
Emits: enrollment_accepted.
Fails with: a dead letter naming each invalid field (answers to partners follow in intake).
"""
from __future__ import annotations

import json

from marshmallow import ValidationError
from nameko.rpc import rpc

from score_common.envelope import ContractViolation
from score_common.messaging.consumer import IncomingMessage, inbound_consumer
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import AlreadyExists, MongoStore
from score_enrollment import domain
from score_enrollment.models import Enrollment, Enterprise
from score_enrollment.schemas import EnrollmentSummarySchema, SubmissionSchema
from score_enrollment.store import EnrollmentRepository


class Rejected(ContractViolation):
    pass


def parse_submission(message: IncomingMessage) -> tuple[str, str, dict]:
    partner_id = message.user_id
    if not partner_id:
        raise Rejected("submission refused", {"user_id": [
            "missing: publish with the user_id property set to your RabbitMQ user"]})
    if not message.message_id:
        raise Rejected("submission refused", {"message_id": [
            "missing: every submission needs a unique message_id (the idempotency key)"]})
    try:
        body = json.loads(message.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected("submission refused", {"_body": [f"not JSON: {exc}"]}) from None
    try:
        return partner_id, message.message_id, SubmissionSchema().load(body)
    except ValidationError as exc:
        raise Rejected("submission refused", exc.messages) from None


class EnrollmentService(ScoreService):
    name = "enrollment"
    store: EnrollmentRepository = MongoStore(EnrollmentRepository, documents=[Enterprise, Enrollment])
    outbox = Outbox(Enrollment)

    @inbound_consumer("intake")
    def handle_submission(self, message: IncomingMessage):
        partner_id, message_id, submission = parse_submission(message)
        enrollment_id = domain.enrollment_id(partner_id, message_id)
        existing = self.store.get_enrollment(enrollment_id)
        if existing is not None:
            # A resubmission: same answer, no second enrollment. Its event, if still pending,
            # goes out with this publish or the sweeper.
            self.outbox.publish(existing)
            return enrollment_id
        company = submission["enterprise"]
        enterprise = self.store.register_enterprise(
            domain.enterprise_id(company["registration_number"]), company)
        team = domain.team_with_ids(enrollment_id, submission["team"])
        enrollment = self.store.new_enrollment(
            id=enrollment_id, partner_id=partner_id, partner_message_id=message_id,
            enterprise_id=enterprise.pk, module=submission["module"], team=team,
            preferred_period={k: v.isoformat() for k, v in submission["preferred_period"].items()},
            status="accepted")
        self.outbox.record(enrollment, "enrollment_accepted", {
            "enrollment_id": enrollment_id,
            "partner_id": partner_id,
            "module": submission["module"],
            "enterprise": {"enterprise_id": enterprise.pk, **company},
            "team": team,
            "preferred_period": submission["preferred_period"],
        })
        try:
            self.store.insert(enrollment)
        except AlreadyExists:
            return enrollment_id  # a concurrent delivery of the same submission won
        self.outbox.publish(enrollment)
        return enrollment_id

    @rpc
    def get_enrollment(self, enrollment_id: str) -> dict | None:
        enrollment = self.store.get_enrollment(enrollment_id)
        return EnrollmentSummarySchema().dump(enrollment) if enrollment else None


SERVICE = EnrollmentService
