"""The enrollment service: partner intake, the enterprise registry and the enrollment lifecycle.

Accepts: participant_registered, participant_waitlisted, workshop_completed (the enrollment's
status follows its placement); partner submissions on <ns>.enrollment.intake (from the exchange
<ns>.partner.submissions, routing key submission.<partner>, the partner proven by the broker's
validated user_id) and over HTTP (/partner/v1, per-partner API keys); RPC commands from staff
and the edge.
Emits: enrollment_accepted, enrollment_rejected, enrollment_status_changed; an answer for every
submission on the partner's own queue <ns>.partner.outcomes.<partner>.
Fails with: a dead letter for a message no partner can be answered for (no or unknown user),
with the reason in its headers.
"""
from __future__ import annotations

import csv
import io
import json
import logging

from marshmallow import ValidationError
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.web.handlers import http

from score_common.envelope import ContractViolation, Event
from score_common.http import bearer_token, json_response, problem, read_body
from score_common.messaging.consumer import (
    IncomingMessage, TopologyDeclarer, event_handler, inbound_batch_consumer,
)
from score_common.messaging.publisher import Outgoing
from score_common.messaging.outbox import Outbox
from score_common.observability import correlated
from score_common.service import ScoreService
from score_common.store import AlreadyExists, MongoStore, utcnow
from score_enrollment import csv_upload, domain
from score_enrollment.contract import MAX_SUBMISSION_BYTES
from score_enrollment.intake import Intake, Receipt, SeatBusy
from score_enrollment.models import (
    ApiKey, Enrollment, Enterprise, EnterpriseNameKey, ModuleSeat, Partner, Submission,
)
from score_enrollment.schemas import (
    EnrollmentSchema, EnterpriseSchema, PartnerSchema, RegisterPartnerSchema, StatusChangeSchema,
    SubmissionRecordSchema,
)
from score_enrollment.store import EnrollmentRepository

log = logging.getLogger(__name__)

PARTNER_API = "/partner/v1"
# Submissions answered together when they arrive faster than they are answered: each step of
# intake is then one database write for all of them (see InboundBatchConsumer).
INTAKE_BATCH = 100


class UnattributableSubmission(ContractViolation):
    """No partner can be answered for this message: it goes to the dead-letter queue."""


class PartnerAnswers(DependencyProvider):
    """Publishes answers to partners' own outcome queues (declared on first use)."""

    declarer = TopologyDeclarer()

    def setup(self):
        self._declared = set()

    def get_dependency(self, worker_ctx):
        return self

    def send(self, partner_id: str, answer: dict) -> None:
        failure = self.send_many([(partner_id, answer)])[0]
        if failure is not None:
            raise failure

    def send_many(self, answers: list[tuple[str, dict]]) -> list[Exception | None]:
        """Publish each answer to its partner's queue (pipelined, confirmed); for each, None or
        why the broker did not take it."""
        declared = self.declarer.ensure()
        topology = declared.topology
        new = {partner_id for partner_id, _ in answers} - self._declared
        if new:
            from kombu import Connection

            with Connection(self.container.config["AMQP_URI"]) as connection:
                channel = connection.channel()
                for partner_id in new:
                    topology.partner_outcome_queue(partner_id)(channel).declare()
            self._declared |= new
        failures = declared.publisher.publish_many([Outgoing(
            body=json.dumps(answer).encode(), exchange=topology.outcomes_exchange.name,
            routing_key=partner_id,
            properties={"type": "submission_outcome",
                        "correlation_id": answer.get("message_id"),
                        "message_id": f"outcome-{answer.get('message_id')}"},
            headers={"x-score-outcome": answer["outcome"]}) for partner_id, answer in answers])
        return [failures.get(index) for index in range(len(answers))]


def submission_routing_partner(routing_key: str) -> str | None:
    prefix, _, partner = routing_key.partition(".")
    return partner if prefix == "submission" and partner else None


class EnrollmentService(ScoreService):
    name = "enrollment"
    store: EnrollmentRepository = MongoStore(EnrollmentRepository, documents=[
        Partner, ApiKey, Enterprise, EnterpriseNameKey, ModuleSeat, Enrollment, Submission])
    outbox = Outbox(Enrollment, Submission, Partner)
    answers = PartnerAnswers()

    def _intake(self) -> Intake:
        return Intake(self.store, self.outbox)

    # -- AMQP intake ----------------------------------------------------------------------------
    @inbound_batch_consumer("intake", batch_size=INTAKE_BATCH)
    def handle_submissions(self, messages: list[IncomingMessage]) -> list[Exception | None]:
        """Answer a batch of partner messages; for each, None (answered) or why not yet."""
        partners = self.store.partners_by_id({message.user_id or submission_routing_partner(
            message.routing_key) for message in messages} - {None})
        outcomes: list[Exception | None] = [None] * len(messages)
        receipts, placed = [], []
        for index, message in enumerate(messages):
            try:
                partner_id, transport_errors = self._identify(message, partners)
            except UnattributableSubmission as exc:
                outcomes[index] = exc
                continue
            receipts.append(Receipt(
                partner_id=partner_id, message_id=message.message_id, channel="amqp",
                body=message.body, content_type=message.properties.get("content_type"),
                transport_errors=transport_errors,
                correlation_id=message.properties.get("correlation_id") or message.message_id))
            placed.append(index)
        results = self._intake().submit_many(receipts)
        answered = [(index, receipt, result.body)
                    for index, receipt, result in zip(placed, receipts, results)
                    if not isinstance(result, Exception)]
        for index, result in zip(placed, results):
            if isinstance(result, Exception):
                outcomes[index] = result
        failures = self.answers.send_many([(receipt.partner_id, body)
                                           for _, receipt, body in answered])
        for (index, receipt, body), failure in zip(answered, failures):
            outcomes[index] = failure
            with correlated(receipt.correlation_id):
                log.info("submission %s from %s %s%s%s", body["message_id"], receipt.partner_id,
                         body["outcome"], f" as {body['enrollment_id']}"
                         if body["enrollment_id"] else "", " (replayed)" if body["replayed"]
                         else "" if failure is None else f"; answer not sent: {failure}")
        return outcomes

    @staticmethod
    def _identify(message: IncomingMessage, partners: dict) -> tuple[str, dict]:
        """The partner the broker vouches for, and transport errors to answer it with."""
        routed = submission_routing_partner(message.routing_key)
        user = message.user_id
        if user:
            partner = partners.get(user)
            if partner is None or not partner.active:
                raise UnattributableSubmission(
                    f"user {user!r} is not an active partner", {"user_id": [
                        f"{user!r} is not a registered, active partner"]})
            if routed != user:
                return user, {"_routing_key": [
                    f"must be submission.{user} (your partner code), got "
                    f"{message.routing_key!r}"]}
            return user, {}
        # No user_id: the routing key is proven only by the partner's topic permission, so the
        # partner it names is answered, and told to set user_id.
        partner = partners.get(routed) if routed else None
        if partner is None or not partner.active:
            raise UnattributableSubmission(
                "submission without user_id from no known partner", {"user_id": [
                    "missing: publish with the user_id property set to your RabbitMQ user"]})
        return partner.pk, {"user_id": [
            "missing: publish with the user_id property set to your RabbitMQ user; the broker "
            "checks it, and it proves who submitted"]}

    # -- HTTP for partners -----------------------------------------------------------------------
    def _partner_for_key(self, api_key: str | None) -> Partner | None:
        """The active partner a live API key belongs to, else None."""
        key_id = domain.parse_api_key(api_key) if api_key else None
        key = self.store.get_api_key(key_id) if key_id else None
        if key is None or key.revoked_at is not None or not domain.key_matches(api_key,
                                                                               key.digest):
            return None
        partner = self.store.get_partner(key.partner_id)
        return partner if partner is not None and partner.active else None

    def _partner_from_key(self, request) -> Partner | None:
        return self._partner_for_key(bearer_token(request))

    def _own_enrollment(self, partner: Partner, enrollment_id: str):
        """(the partner's enrollment, None) or (None, a 404): another partner's enrollment is
        answered exactly like a missing one."""
        enrollment = self.store.get_enrollment(enrollment_id)
        if enrollment is None or enrollment.partner_id != partner.pk:
            return None, problem(404, "not-found", "No such enrollment",
                                 f"you have no enrollment {enrollment_id}")
        return enrollment, None

    def _unauthorised(self):
        return problem(401, "unauthorised", "Unauthorised",
                       "send your API key as 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": 'Bearer realm="score-partner"'})

    @http("POST", PARTNER_API + "/submissions")
    def http_submit(self, request):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        body = read_body(request, MAX_SUBMISSION_BYTES)
        if body is None:
            return problem(413, "too-large", "Submission too large",
                           f"the limit is {MAX_SUBMISSION_BYTES // 1024} KiB")
        message_id = request.headers.get("Idempotency-Key")
        try:
            answer = self._intake().submit(Receipt(
                partner_id=partner.pk, message_id=message_id, channel="http", body=body,
                content_type=request.headers.get("Content-Type"), correlation_id=message_id))
        except SeatBusy:
            return problem(409, "busy", "Another submission for this enterprise and module is "
                           "being handled", "send it again in a few seconds",
                           headers={"Retry-After": "2"})
        return self._http_answer(answer)

    def _http_answer(self, answer):
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        if answer.accepted:
            headers["Location"] = f"{PARTNER_API}/enrollments/{answer.body['enrollment_id']}"
            return json_response(200 if answer.replayed else 201, answer.body, headers)
        body = answer.body
        return problem(422, "invalid-submission", "The submission was rejected",
                       "; ".join(f"{path}: {' '.join(reasons)}"
                                 for path, reasons in body["errors"].items()),
                       errors=body["errors"], headers=headers, outcome=body)

    @http("POST", PARTNER_API + "/submissions/csv")
    def http_submit_csv(self, request):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        media_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type not in ("text/csv", "application/csv"):
            return problem(415, "unsupported-media-type", "Send CSV",
                           f"Content-Type must be text/csv, got {media_type or 'none'}")
        data = read_body(request, csv_upload.MAX_CSV_BYTES)
        if data is None:
            return problem(413, "too-large", "File too large",
                           f"the limit is {csv_upload.MAX_CSV_BYTES // (1024 * 1024)} MiB")
        try:
            groups = csv_upload.parse(data)
        except csv_upload.CsvRefused as exc:
            return problem(422, "invalid-csv", "The file cannot be read", str(exc),
                           errors={"_file": [str(exc)]})
        results = self._intake().submit_many([Receipt(
            partner_id=partner.pk, message_id=group["message_id"], channel="csv",
            body=csv_upload.document_bytes(group), correlation_id=group["message_id"])
            for group in groups])
        rows = []
        for group, answer in zip(groups, results):
            if isinstance(answer, SeatBusy):
                rows.extend({"line": line, "message_id": group["message_id"],
                             "outcome": "retry", "enrollment_id": None, "replayed": False,
                             "errors": {"_row": ["another submission for this enterprise and "
                                                 "module was being handled; upload again"]},
                             "warnings": []} for line in group["rows"])
                continue
            if isinstance(answer, Exception):
                raise answer
            by_line = csv_upload.errors_by_line(group, answer.body["errors"])
            for line, conflicts in group["conflicts"].items():
                for column, reasons in conflicts.items():
                    by_line.setdefault(line, {}).setdefault(column, []).extend(reasons)
            for line in group["rows"]:
                rows.append({"line": line, "message_id": group["message_id"],
                             "outcome": answer.body["outcome"],
                             "enrollment_id": answer.body["enrollment_id"],
                             "replayed": answer.replayed,
                             "errors": by_line.get(line, {}),
                             "warnings": answer.body["warnings"] if line == group["rows"][0]
                             else []})
        rows.sort(key=lambda row: row["line"])
        summary = {"submissions": len(groups),
                   "accepted": len({r["message_id"] for r in rows if r["outcome"] == "accepted"}),
                   "rejected": len({r["message_id"] for r in rows if r["outcome"] == "rejected"}),
                   "rows": rows}
        if "text/csv" in (request.headers.get("Accept") or ""):
            return 200, {"Content-Type": "text/csv; charset=utf-8"}, _rows_as_csv(rows)
        return json_response(200, summary)

    @http("GET", PARTNER_API + "/submissions/<path:message_id>")
    def http_get_submission(self, request, message_id):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        submission = self.store.get_submission(partner.pk, message_id)
        if submission is None:
            return problem(404, "not-found", "No such submission",
                           f"you have sent no submission with message id {message_id!r}")
        return json_response(200, submission.answer)

    @http("GET", PARTNER_API + "/enrollments")
    def http_list_enrollments(self, request):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        args = request.args
        errors = {}
        status = args.get("status")
        if status is not None and status not in domain.STATUSES:
            errors["status"] = [f"must be one of {', '.join(domain.STATUSES)}"]
        module = _int_arg(args, "module", 1, 5, errors)
        limit = _int_arg(args, "limit", 1, 500, errors, default=50)
        offset = _int_arg(args, "offset", 0, 10**9, errors, default=0)
        if errors:
            return problem(400, "invalid-query", "Invalid query parameters", errors=errors)
        page, total = self.store.list_enrollments(partner_id=partner.pk, status=status,
                                                  module=module, limit=limit, offset=offset)
        return json_response(200, {"total": total, "limit": limit, "offset": offset,
                                   "items": EnrollmentSchema(many=True).dump(page)})

    @http("GET", PARTNER_API + "/enrollments/<enrollment_id>")
    def http_get_enrollment(self, request, enrollment_id):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        enrollment, not_found = self._own_enrollment(partner, enrollment_id)
        return not_found or json_response(200, EnrollmentSchema().dump(enrollment))

    @http("POST", PARTNER_API + "/enrollments/<enrollment_id>/withdrawal")
    def http_withdraw(self, request, enrollment_id):
        partner = self._partner_from_key(request)
        if partner is None:
            return self._unauthorised()
        _, not_found = self._own_enrollment(partner, enrollment_id)
        if not_found:
            return not_found
        try:
            body = json.loads(read_body(request, 16 * 1024) or b"{}")
            reason = body.get("reason") if isinstance(body, dict) else None
        except ValueError:
            reason = None
        if not isinstance(reason, str) or not reason.strip():
            return problem(422, "invalid-withdrawal", "A withdrawal needs a reason",
                           errors={"reason": ["required: why the enterprise withdraws"]})
        try:
            result = self._change_status(enrollment_id, "withdrawn", reason.strip(),
                                         f"partner:{partner.pk}")
        except domain.InvalidTransition as exc:
            return problem(409, "invalid-transition", "The enrollment cannot be withdrawn",
                           str(exc), errors={"status": [str(exc)]})
        return json_response(200, result)

    # -- RPC for staff and the edge ---------------------------------------------------------------
    @rpc
    def get_enrollment(self, enrollment_id: str) -> dict | None:
        enrollment = self.store.get_enrollment(enrollment_id)
        return EnrollmentSchema().dump(enrollment) if enrollment else None

    @rpc
    def list_enrollments(self, partner_id=None, status=None, module=None, enterprise_id=None,
                         limit=50, offset=0) -> dict:
        page, total = self.store.list_enrollments(
            partner_id=partner_id, status=status, module=module, enterprise_id=enterprise_id,
            limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset,
                "items": EnrollmentSchema(many=True).dump(page)}

    # -- the lifecycle follows scheduling ---------------------------------------------------------
    @event_handler
    def handle_participant_registered(self, event: Event):
        workshop = event.payload["workshop"]
        return self._follow(event.payload["enrollment_id"], "in_training",
                            f"registered in workshop {workshop['workshop_id']} ("
                            + ", ".join(str(day) for day in workshop["days"]) + ")")

    @event_handler
    def handle_participant_waitlisted(self, event: Event):
        return self._follow(event.payload["enrollment_id"], "waitlisted",
                            event.payload["reason"])

    @event_handler
    def handle_workshop_completed(self, event: Event):
        workshop = event.payload
        if workshop["kind"] != "module":
            return []
        return [self._follow(team["enrollment_id"], "coaching",
                             f"attended workshop {workshop['workshop_id']}: {team['reason']}")
                for team in workshop["teams"] if team["qualified"]]

    def _follow(self, enrollment_id: str, status: str, reason: str) -> str | None:
        """Move the enrollment as scheduling says; an enrollment that has moved on (withdrawn
        meanwhile, or already further) stays as it is."""
        try:
            return self._change_status(enrollment_id, status, reason, "scheduling")["status"]
        except domain.InvalidTransition as exc:
            log.info("enrollment %s stays: %s", enrollment_id, exc)
            return None
        except Enrollment.DoesNotExist:
            log.warning("scheduling placed %s, which this service does not know", enrollment_id)
            return None

    @rpc
    def change_status(self, enrollment_id: str, status: str, reason: str | None = None,
                      actor: str = "staff") -> dict:
        command = StatusChangeSchema().load({"status": status, "reason": reason, "actor": actor})
        return self._change_status(enrollment_id, command["status"], command["reason"],
                                   command["actor"])

    def _change_status(self, enrollment_id, status, reason, actor) -> dict:
        enrollment, changed = self.store.change_status(
            enrollment_id, status, reason=reason, actor=actor,
            record=lambda doc, payload: self.outbox.record(doc, "enrollment_status_changed",
                                                           payload))
        if changed:
            self.outbox.publish(enrollment)
        return {**EnrollmentSchema().dump(enrollment), "changed": changed}

    @rpc
    def get_enterprise(self, enterprise_id: str) -> dict | None:
        enterprise = self.store.get_enterprise(enterprise_id)
        if enterprise is None:
            return None
        enrollments, _ = self.store.list_enrollments(enterprise_id=enterprise_id, limit=500)
        return {**EnterpriseSchema().dump(enterprise),
                "enrollments": EnrollmentSchema(many=True, only=(
                    "enrollment_id", "partner_id", "module", "status", "submitted_at")
                ).dump(enrollments)}

    @rpc
    def submit(self, partner_id: str, message_id: str, document: dict,
               channel: str = "http") -> dict:
        """For the edge: a partner's submission it has authenticated."""
        answer = self._intake().submit(Receipt(
            partner_id=partner_id, message_id=message_id, channel=channel,
            body=json.dumps(document).encode(), correlation_id=message_id))
        return {**answer.body, "replayed": answer.replayed}

    @rpc
    def get_submission(self, partner_id: str, message_id: str) -> dict | None:
        submission = self.store.get_submission(partner_id, message_id)
        return SubmissionRecordSchema().dump(submission) if submission else None

    @rpc
    def list_submissions(self, partner_id=None, outcome=None, limit=50, offset=0) -> dict:
        page, total = self.store.list_submissions(partner_id=partner_id, outcome=outcome,
                                                  limit=limit, offset=offset)
        return {"total": total, "items": SubmissionRecordSchema(many=True).dump(page)}

    @rpc
    def register_partner(self, partner_id: str, name: str, kind: str,
                         contact_email: str | None = None, language: str = "id") -> dict:
        """Register (or update) a partner; idempotent. Its contact is told when the report
        of an enterprise it enrolled is ready."""
        data = RegisterPartnerSchema().load({"partner_id": partner_id, "name": name,
                                             "kind": kind, "contact_email": contact_email,
                                             "language": language})
        fields_ = {k: data[k] for k in ("name", "kind", "contact_email", "language")}
        try:
            self.store.insert(Partner(id=data["partner_id"], created_at=utcnow(), **fields_))
        except AlreadyExists:
            def change(existing):
                if all(getattr(existing, k) == v for k, v in fields_.items()) \
                        and existing.active:
                    return False
                for k, v in fields_.items():
                    setattr(existing, k, v)
                existing.active = True
            self.store.update(Partner, data["partner_id"], change)
        partner = self.store.update(Partner, data["partner_id"], self._announce_partner)
        self.outbox.publish(partner)
        return PartnerSchema().dump(partner)

    def _announce_partner(self, partner: Partner):
        """Tell the platform about a new or changed partner (once per change)."""
        return self.outbox.announce(partner, "partner_registered", {
            "partner_id": partner.pk, **{k: getattr(partner, k) for k in (
                "name", "kind", "contact_email", "language", "active")}})

    @rpc
    def deactivate_partner(self, partner_id: str) -> dict:
        def change(partner):
            if not partner.active:
                return False
            partner.active = False
        return PartnerSchema().dump(self.store.update(Partner, partner_id, change))

    @rpc
    def list_partners(self) -> list[dict]:
        return PartnerSchema(many=True).dump(self.store.partners())

    @rpc
    def issue_api_key(self, partner_id: str, label: str | None = None) -> dict:
        """A new API key for the partner; the key itself is returned once and never stored."""
        if self.store.get_partner(partner_id) is None:
            raise ValidationError({"partner_id": [f"no partner {partner_id!r}"]})
        key_id, key = domain.new_api_key()
        ApiKey(id=key_id, partner_id=partner_id, digest=domain.api_key_digest(key), label=label,
               created_at=utcnow()).save(force_insert=True)
        return {"partner_id": partner_id, "key_id": key_id, "api_key": key}

    @rpc
    def revoke_api_key(self, key_id: str) -> bool:
        return ApiKey.objects(pk=key_id, revoked_at=None).update(set__revoked_at=utcnow()) > 0

    @rpc
    def authenticate(self, api_key: str) -> str | None:
        """The partner an API key belongs to, for the edge; None if it is not a live key."""
        partner = self._partner_for_key(api_key)
        return partner.pk if partner is not None else None


def _int_arg(args, name, minimum, maximum, errors, default=None):
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = ["must be a whole number"]
        return default
    if not minimum <= value <= maximum:
        errors[name] = [f"must be between {minimum} and {maximum}"]
        return default
    return value


def _rows_as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "message_id", "outcome", "enrollment_id", "errors", "warnings"])
    for row in rows:
        writer.writerow([row["line"], row["message_id"], row["outcome"], row["enrollment_id"] or "",
                         "; ".join(f"{column}: {' '.join(reasons)}"
                                   for column, reasons in row["errors"].items()),
                         "; ".join(w["message"] for w in row["warnings"])])
    return out.getvalue()


SERVICE = EnrollmentService
