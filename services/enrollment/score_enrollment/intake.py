"""Partner intake: one submission in, one answer out, whichever way it arrived.

AMQP, HTTP and CSV all hand a `Receipt` to `Intake.submit`. The answer is stored with the
submission under (partner, message id) before it is given, so a resubmission, a redelivery
after a crash or a retry gets the same answer and never a second enrollment.

Order of writes, each an insert keyed by a deterministic id so that repeating any prefix of
them is harmless: the module seat (one live enrollment per enterprise and module), the
enterprise, the enrollment with its event in its outbox, the submission with its answer.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from mongoengine import NotUniqueError

from score_common.store import AlreadyExists, as_utc, utcnow
from score_enrollment import domain
from score_enrollment.contract import (
    CONTENT_TYPE, MAX_SUBMISSION_BYTES, SCHEMA_VERSIONS, validate_submission,
)
from score_enrollment.models import (
    Enrollment, Enterprise, EnterpriseNameKey, ModuleSeat, Submission,
)
from score_enrollment.store import changed_details

MAX_KEPT_BODY = 64 * 1024
MAX_MESSAGE_ID = 200
# A seat claimed by a submission that never finished (its worker died) is free after this.
SEAT_LEASE = timedelta(seconds=60)


class SeatBusy(Exception):
    """Another submission for this enterprise and module is being handled right now."""


@dataclass
class Receipt:
    """A submission as it arrived, before anything is believed about its body."""

    partner_id: str
    message_id: str | None
    channel: str
    body: bytes
    content_type: str | None = CONTENT_TYPE
    received_at: datetime = field(default_factory=utcnow)
    # Problems the transport found (e.g. a missing user id): answered as rejections.
    transport_errors: dict = field(default_factory=dict)
    correlation_id: str | None = None


@dataclass
class Answer:
    body: dict
    replayed: bool = False

    @property
    def accepted(self) -> bool:
        return self.body["outcome"] == "accepted"


def _iso(value: datetime) -> str:
    return value.isoformat()


class Intake:
    def __init__(self, store, outbox, today: date | None = None):
        self.store = store
        self.outbox = outbox
        self.today = today

    # -- entry ----------------------------------------------------------------------------------
    def submit(self, receipt: Receipt) -> Answer:
        key = self._key(receipt)
        if key is not None:
            stored = Submission.objects(pk=key).first()
            if stored is not None:
                return self._replay(stored, receipt)
        document, errors = self._read(receipt)
        if errors:
            return self._reject(receipt, key, errors, document)
        try:
            return self._accept(receipt, key, document)
        except _Refusal as refusal:
            return self._reject(receipt, key, refusal.errors, document)

    def _key(self, receipt: Receipt) -> str | None:
        if not receipt.message_id or len(receipt.message_id) > MAX_MESSAGE_ID:
            return None
        return domain.submission_key(receipt.partner_id, receipt.message_id)

    # -- reading --------------------------------------------------------------------------------
    def _read(self, receipt: Receipt) -> tuple[dict | None, dict]:
        errors = dict(receipt.transport_errors)
        if not receipt.message_id:
            errors["message_id"] = ["missing: every submission needs a unique message id, "
                                    "which is also its idempotency key"]
        elif len(receipt.message_id) > MAX_MESSAGE_ID:
            errors["message_id"] = [f"longer than {MAX_MESSAGE_ID} characters"]
        if len(receipt.body) > MAX_SUBMISSION_BYTES:
            errors["_body"] = [f"is {len(receipt.body) // 1024} KiB; the limit is "
                               f"{MAX_SUBMISSION_BYTES // 1024} KiB"]
            return None, errors
        media_type = (receipt.content_type or "").split(";")[0].strip().lower()
        if media_type != CONTENT_TYPE:
            errors["_content_type"] = [f"must be {CONTENT_TYPE}, got {media_type or 'none'}"]
            return None, errors
        try:
            document = json.loads(receipt.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors["_body"] = [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]
            return None, errors
        except ValueError as exc:
            errors["_body"] = [f"not JSON: {exc}"]
            return None, errors
        if isinstance(document, dict) and document.get("schema_version") not in SCHEMA_VERSIONS \
                and "schema_version" in document:
            # Nothing else can be judged against a contract the platform does not know.
            errors["schema_version"] = [
                f"unsupported version {document.get('schema_version')!r}; this platform "
                f"accepts {', '.join(map(str, SCHEMA_VERSIONS))}"]
            return document, errors
        submission, invalid = validate_submission(document, today=self.today)
        errors.update(invalid)
        return (submission if not errors else document), errors

    # -- answers --------------------------------------------------------------------------------
    def _answer(self, receipt: Receipt, outcome: str, *, errors=None, warnings=(),
                enrollment: Enrollment | None = None) -> dict:
        return {
            "schema_version": 1,
            "message_id": receipt.message_id,
            "partner_id": receipt.partner_id,
            "outcome": outcome,
            "enrollment_id": enrollment.pk if enrollment else None,
            "enterprise_id": enrollment.enterprise_id if enrollment else None,
            "status": enrollment.status if enrollment else None,
            "errors": errors or {},
            "warnings": list(warnings),
            "channel": receipt.channel,
            "received_at": _iso(receipt.received_at),
            "answered_at": _iso(utcnow()),
            "replayed": False,
        }

    def _replay(self, stored: Submission, receipt: Receipt) -> Answer:
        answer = {**stored.answer, "replayed": True}
        if stored.body_sha256 and stored.body_sha256 != _digest(receipt.body):
            answer["warnings"] = [*answer.get("warnings", []), {
                "code": "message_id_reused", "field": "message_id",
                "message": "this message id was already answered for a different body; that "
                           "answer stands. Send a new submission under a new message id."}]
        return Answer(answer, replayed=True)

    def _store(self, submission: Submission) -> Answer:
        try:
            self.store.insert(submission)
        except AlreadyExists:
            # The same message handled concurrently (a redelivery racing a retry): the first
            # answer is the answer.
            stored = Submission.objects.get(pk=submission.pk)
            return Answer({**stored.answer, "replayed": True}, replayed=True)
        self.outbox.publish(submission)
        return Answer(submission.answer)

    def _reject(self, receipt: Receipt, key: str | None, errors: dict, document) -> Answer:
        answer = self._answer(receipt, "rejected", errors=errors)
        submission = Submission(
            id=key or f"{receipt.partner_id}:unidentified:{uuid.uuid4().hex}",
            partner_id=receipt.partner_id, message_id=receipt.message_id,
            channel=receipt.channel, received_at=receipt.received_at,
            body_sha256=_digest(receipt.body),
            body=receipt.body[:MAX_KEPT_BODY].decode("utf-8", errors="replace"),
            outcome="rejected", answer_json=json.dumps(answer))
        module = document.get("module") if isinstance(document, dict) else None
        self.outbox.record(submission, "enrollment_rejected", {
            "partner_id": receipt.partner_id, "message_id": receipt.message_id,
            "channel": receipt.channel,
            "module": module if isinstance(module, int) and not isinstance(module, bool) else None,
            "errors": [{"field": path, "reasons": reasons} for path, reasons in errors.items()],
            "received_at": receipt.received_at,
        }, correlation_id=receipt.correlation_id)
        return self._store(submission)

    # -- acceptance -----------------------------------------------------------------------------
    def _accept(self, receipt: Receipt, key: str, submission: dict) -> Answer:
        company = submission["enterprise"]
        enterprise_id = domain.enterprise_id(company["registration_number"])
        enrollment_id = domain.enrollment_id(receipt.partner_id, receipt.message_id)
        self._claim_seat(enterprise_id, submission["module"], enrollment_id, company)
        enterprise, warnings = self._register(enterprise_id, company, receipt)

        enrollment = self.store.get_enrollment(enrollment_id)
        if enrollment is None:
            enrollment = self._new_enrollment(receipt, enrollment_id, enterprise, submission)
            try:
                self.store.insert(enrollment)
            except AlreadyExists:
                enrollment = self.store.get_enrollment(enrollment_id)
            else:
                self.outbox.publish(enrollment)
        answer = self._answer(receipt, "accepted", warnings=warnings, enrollment=enrollment)
        return self._store(Submission(
            id=key, partner_id=receipt.partner_id, message_id=receipt.message_id,
            channel=receipt.channel, received_at=receipt.received_at,
            body_sha256=_digest(receipt.body), outcome="accepted",
            enrollment_id=enrollment.pk, answer_json=json.dumps(answer)))

    def _new_enrollment(self, receipt, enrollment_id, enterprise, submission) -> Enrollment:
        company = {"enterprise_id": enterprise.pk, **submission["enterprise"]}
        team = domain.team_with_ids(enrollment_id, submission["team"])
        period = {k: v.isoformat() for k, v in submission["preferred_period"].items()}
        now = utcnow()
        enrollment = Enrollment(
            id=enrollment_id, partner_id=receipt.partner_id,
            partner_message_id=receipt.message_id, channel=receipt.channel,
            enterprise_id=enterprise.pk, enterprise=company, module=submission["module"],
            team=team, preferred_period=period, status="accepted",
            history=[{"status": "submitted", "at": receipt.received_at, "actor":
                      f"partner:{receipt.partner_id}", "channel": receipt.channel},
                     {"status": "accepted", "at": now, "actor": "enrollment"}],
            submitted_at=receipt.received_at)
        self.outbox.record(enrollment, "enrollment_accepted", {
            "enrollment_id": enrollment_id, "partner_id": receipt.partner_id,
            "module": submission["module"], "enterprise": company, "team": team,
            "preferred_period": period, "channel": receipt.channel,
            "submitted_at": receipt.received_at,
        }, correlation_id=receipt.correlation_id)
        return enrollment

    def _claim_seat(self, enterprise_id: str, module: int, enrollment_id: str, company: dict):
        seat_id = domain.module_seat_id(enterprise_id, module)
        for _ in range(2):
            try:
                ModuleSeat(id=seat_id, enrollment_id=enrollment_id,
                           claimed_at=utcnow()).save(force_insert=True)
                return
            except NotUniqueError:
                seat = ModuleSeat.objects(pk=seat_id).first()
            if seat is None or seat.enrollment_id == enrollment_id:
                if seat is None:
                    continue  # released in between: claim it
                return  # ours, from an earlier attempt at this same submission
            holder = self.store.get_enrollment(seat.enrollment_id)
            if holder is not None:
                who = f"{company['name']} (NIB {company['registration_number']})"
                reason = (f"{who} has completed module {module} ({holder.pk})"
                          if holder.status == "completed" else
                          f"{who} is already enrolled in module {module} ({holder.pk}, "
                          f"{holder.status}); one live enrollment per enterprise and module")
                raise _Refusal({"module": [reason]})
            if utcnow() - as_utc(seat.claimed_at) < SEAT_LEASE:
                raise SeatBusy(f"{seat_id} is being claimed by {seat.enrollment_id}")
            ModuleSeat.objects(pk=seat_id, enrollment_id=seat.enrollment_id).delete()
        raise SeatBusy(f"{seat_id} keeps changing hands")

    def _register(self, enterprise_id: str, company: dict, receipt: Receipt):
        """The enterprise in the registry (one per NIB), and warnings for the partner."""
        warnings = []
        enterprise = Enterprise.objects(pk=enterprise_id).first()
        if enterprise is None:
            try:
                enterprise = self.store.insert(Enterprise(
                    id=enterprise_id, registered_at=utcnow(), registered_by=receipt.partner_id,
                    **company))
            except AlreadyExists:
                enterprise = Enterprise.objects.get(pk=enterprise_id)
        changed = changed_details(enterprise, company)
        if changed:
            enterprise = self.store.update_enterprise_details(
                enterprise_id, company, receipt.partner_id, receipt.message_id)
            warnings.append({
                "code": "enterprise_details_updated", "field": "enterprise",
                "message": "the registry's details for NIB "
                           f"{company['registration_number']} were updated ("
                           + ", ".join(sorted(changed)) + "); the earlier values are kept"})
        name_key = domain.name_key(company["name"], company["district"])
        try:
            EnterpriseNameKey(id=name_key, enterprise_id=enterprise_id,
                              registration_number=company["registration_number"]
                              ).save(force_insert=True)
        except NotUniqueError:
            first = EnterpriseNameKey.objects(pk=name_key).first()
            if first is not None and first.enterprise_id != enterprise_id:
                warnings.append({
                    "code": "possible_duplicate_enterprise", "field": "enterprise.name",
                    "message": f"an enterprise with this name in {company['district']} is "
                               f"registered under NIB {first.registration_number} "
                               f"({first.enterprise_id}); if it is the same enterprise, "
                               "its enrollments belong under that NIB"})
        return enterprise, warnings


class _Refusal(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
