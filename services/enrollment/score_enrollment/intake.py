"""Partner intake: one submission in, one answer out, whichever way it arrived.

AMQP, HTTP and CSV all hand `Receipt`s to `Intake.submit_many` (`submit` is a batch of one).
The answer is stored with the submission under (partner, message id) before it is given, so a
resubmission, a redelivery after a crash or a retry gets the same answer and never a second
enrollment.

Intake writes rows in their documents' stored form (Repository.insert_rows) rather than
building mongoengine documents: at a partner's full rate, building, validating and tracking
five documents per submission cost the service a third of its time. tests/unit/test_rows.py
holds every row to what its document class would store.

Order of writes, each an insert keyed by a deterministic id so that repeating any prefix of
them is harmless: the module seats (one live enrollment per enterprise and module), the
enterprises, the enrollments with their events in their outboxes, the submissions with their
answers. A batch makes each step one write for all its submissions; anything unusual (a seat
already taken, an enterprise whose details changed, a possible duplicate) is settled for that
submission alone, as a single submission would be. A submission that cannot be settled now
(SeatBusy) is returned as its exception, and the others are answered.
"""
from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from mongoengine import NotUniqueError

from score_common.store import as_utc, outbox_entry, utcnow
from score_enrollment import domain
from score_enrollment.contract import (
    CONTENT_TYPE, MAX_SUBMISSION_BYTES, SCHEMA_VERSIONS, validate_submission,
)
from score_enrollment.models import (
    Enrollment, Enterprise, EnterpriseNameKey, ModuleSeat, Submission,
)
from score_enrollment.store import ENTERPRISE_DETAILS, changed_details

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


@dataclass
class _Unit:
    """One submission on its way through a batch."""

    receipt: Receipt
    key: str | None
    submission: dict | None = None  # the validated document
    errors: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    enrollment: dict | None = None  # the stored row
    answer: dict | None = None
    result: Answer | Exception | None = None

    @property
    def going(self) -> bool:
        """Neither answered nor refused yet: on its way to acceptance."""
        return self.result is None and not self.errors

    @property
    def company(self) -> dict:
        return self.submission["enterprise"]

    @functools.cached_property
    def enterprise_id(self) -> str:
        return domain.enterprise_id(self.company["registration_number"])

    @functools.cached_property
    def enrollment_id(self) -> str:
        return domain.enrollment_id(self.receipt.partner_id, self.receipt.message_id)


class Intake:
    def __init__(self, store, outbox, today: date | None = None):
        self.store = store
        self.outbox = outbox
        self.today = today

    # -- entry ----------------------------------------------------------------------------------
    def submit(self, receipt: Receipt) -> Answer:
        [result] = self.submit_many([receipt])
        if isinstance(result, Exception):
            raise result
        return result

    def submit_many(self, receipts: list[Receipt]) -> list[Answer | Exception]:
        """An answer (or the exception that delays it) for each receipt, in order."""
        units = [_Unit(receipt, self._key(receipt)) for receipt in receipts]
        # The same message twice in one batch is one submission: the later copies are
        # answered as replays of the first.
        firsts: dict[str, _Unit] = {}
        copies: list[tuple[_Unit, _Unit]] = []
        for unit in units:
            if unit.key is not None and unit.key in firsts:
                copies.append((unit, firsts[unit.key]))
            elif unit.key is not None:
                firsts[unit.key] = unit
        stored = self._rows_by_id(Submission, list(firsts), "answer_json", "body_sha256")
        fresh = []
        for unit in units:
            if unit.key in stored:
                row = stored[unit.key]
                unit.result = self._replay(json.loads(row["answer_json"]),
                                           row.get("body_sha256"), unit.receipt)
            elif unit.key is None or firsts[unit.key] is unit:
                unit.submission, unit.errors = self._read(unit.receipt)
                fresh.append(unit)
        for step in (self._claim_seats, self._register, self._enroll):
            going = [unit for unit in fresh if unit.going]
            if going:
                step(going)
        self._answer_all([unit for unit in fresh if unit.result is None])
        for copy, first in copies:
            copy.result = first.result if isinstance(first.result, Exception) else \
                self._replay(first.result.body, _digest(first.receipt.body), copy.receipt)
        return [unit.result for unit in units]

    def _rows_by_id(self, doc_cls, ids: list[str], *fields: str) -> dict[str, dict]:
        """The stored rows with these ids (only `fields`, if named), by id."""
        if not ids:
            return {}
        projection = dict.fromkeys(fields, 1) if fields else None
        return {row["_id"]: row for row in self.store.db[doc_cls._get_collection_name()].find(
            {"_id": {"$in": ids}}, projection)}

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

    # -- answers ----------------------------------------------------------------------------------
    def _answer(self, receipt: Receipt, outcome: str, *, errors=None, warnings=(),
                enrollment: dict | None = None) -> dict:
        return {
            "schema_version": 1,
            "message_id": receipt.message_id,
            "partner_id": receipt.partner_id,
            "outcome": outcome,
            "enrollment_id": enrollment["_id"] if enrollment else None,
            "enterprise_id": enrollment["enterprise_id"] if enrollment else None,
            "status": enrollment["status"] if enrollment else None,
            "errors": errors or {},
            "warnings": list(warnings),
            "channel": receipt.channel,
            "received_at": _iso(receipt.received_at),
            "answered_at": _iso(utcnow()),
            "replayed": False,
        }

    def _replay(self, answer: dict, body_sha256: str | None, receipt: Receipt) -> Answer:
        answer = {**answer, "replayed": True}
        if body_sha256 and body_sha256 != _digest(receipt.body):
            answer["warnings"] = [*answer.get("warnings", []), {
                "code": "message_id_reused", "field": "message_id",
                "message": "this message id was already answered for a different body; that "
                           "answer stands. Send a new submission under a new message id."}]
        return Answer(answer, replayed=True)

    def _answer_all(self, units: list[_Unit]) -> None:
        """Store every submission with its answer (one write), then answer and publish."""
        if not units:
            return
        rows, events = zip(*[self._rejection(unit) if unit.errors else self._acceptance(unit)
                             for unit in units])
        taken = self.store.insert_rows(Submission._get_collection_name(), list(rows))
        earlier = self._rows_by_id(Submission, [rows[index]["_id"] for index in taken],
                                   "answer_json")
        for index, (unit, row) in enumerate(zip(units, rows)):
            if index in taken:
                # The same message handled concurrently (a redelivery racing a retry): the
                # first answer is the answer.
                answer = json.loads(earlier[row["_id"]]["answer_json"])
                unit.result = Answer({**answer, "replayed": True}, replayed=True)
            else:
                unit.result = Answer(unit.answer)
        self.outbox.publish_envelopes([event for index, event in enumerate(events)
                                       if index not in taken and event])

    def _submission_row(self, key: str, receipt: Receipt, outcome: str, answer: dict,
                        **fields) -> dict:
        """A Submission as stored (None fields are left out, as mongoengine leaves them)."""
        row = {"_id": key, "version": 1, "outbox": [], "partner_id": receipt.partner_id,
               "message_id": receipt.message_id, "channel": receipt.channel,
               "received_at": receipt.received_at, "body_sha256": _digest(receipt.body),
               **fields, "outcome": outcome, "answer_json": json.dumps(answer)}
        return {name: value for name, value in row.items() if value is not None}

    def _rejection(self, unit: _Unit) -> tuple[dict, dict]:
        """The Submission row, and the enrollment_rejected in its outbox."""
        receipt = unit.receipt
        unit.answer = self._answer(receipt, "rejected", errors=unit.errors)
        document = unit.submission
        module = document.get("module") if isinstance(document, dict) else None
        event = self.outbox.envelope("enrollment_rejected", {
            "partner_id": receipt.partner_id, "message_id": receipt.message_id,
            "channel": receipt.channel,
            "module": module if isinstance(module, int) and not isinstance(module, bool) else None,
            "errors": [{"field": path, "reasons": reasons}
                       for path, reasons in unit.errors.items()],
            "received_at": receipt.received_at,
        }, correlation_id=receipt.correlation_id)
        row = self._submission_row(
            unit.key or f"{receipt.partner_id}:unidentified:{uuid.uuid4().hex}", receipt,
            "rejected", unit.answer,
            body=receipt.body[:MAX_KEPT_BODY].decode("utf-8", errors="replace"))
        row["outbox"] = [outbox_entry(event)]
        return row, event

    def _acceptance(self, unit: _Unit) -> tuple[dict, None]:
        """The Submission row (its enrollment carries the event)."""
        unit.answer = self._answer(unit.receipt, "accepted", warnings=unit.warnings,
                                   enrollment=unit.enrollment)
        return self._submission_row(unit.key, unit.receipt, "accepted", unit.answer,
                                    enrollment_id=unit.enrollment["_id"]), None

    # -- acceptance -----------------------------------------------------------------------------
    def _claim_seats(self, units: list[_Unit]) -> None:
        """One live enrollment per enterprise and module: a seat each, claimed by insert."""
        now = utcnow()
        seats = [_seat_row(unit, now) for unit in units]
        for index in sorted(self.store.insert_rows(ModuleSeat._get_collection_name(), seats)):
            unit = units[index]
            try:
                self._claim_seat(unit.enterprise_id, unit.submission["module"],
                                 unit.enrollment_id, unit.company)
            except _Refusal as refusal:
                unit.errors = refusal.errors
            except SeatBusy as busy:
                unit.result = busy

    def _register(self, units: list[_Unit]) -> None:
        """Each enterprise in the registry (one per NIB), and warnings for the partners."""
        ids = list({unit.enterprise_id for unit in units})
        registry = self._rows_by_id(Enterprise, ids, *ENTERPRISE_DETAILS)
        created = {}
        now = utcnow()
        for unit in units:
            if unit.enterprise_id not in registry and unit.enterprise_id not in created:
                created[unit.enterprise_id] = _enterprise_row(unit, now)
        new = list(created.values())
        taken = self.store.insert_rows(Enterprise._get_collection_name(), new)
        # Taken: registered concurrently by another submission; read what it wrote.
        registry.update(self._rows_by_id(Enterprise, [new[index]["_id"] for index in taken],
                                         *ENTERPRISE_DETAILS))
        registry.update({row["_id"]: row for index, row in enumerate(new)
                         if index not in taken})
        for unit in units:
            changed = changed_details(registry[unit.enterprise_id], unit.company)
            if changed:
                registry[unit.enterprise_id] = self.store.update_enterprise_details(
                    unit.enterprise_id, unit.company, unit.receipt.partner_id,
                    unit.receipt.message_id).to_mongo()
                unit.warnings.append({
                    "code": "enterprise_details_updated", "field": "enterprise",
                    "message": "the registry's details for NIB "
                               f"{unit.company['registration_number']} were updated ("
                               + ", ".join(sorted(changed)) + "); the earlier values are kept"})
        self._warn_of_namesakes(units)

    def _warn_of_namesakes(self, units: list[_Unit]) -> None:
        """The first enterprise under a name in a district holds the name; a later one with
        another NIB is likely the same enterprise registered twice."""
        holders: dict[str, dict] = {}
        claims = []
        for unit in units:
            key = domain.name_key(unit.company["name"], unit.company["district"])
            if key not in holders:
                holders[key] = _name_key_row(key, unit)
                claims.append(holders[key])
        taken = [claims[index]["_id"] for index in self.store.insert_rows(
            EnterpriseNameKey._get_collection_name(), claims)]
        holders.update(self._rows_by_id(EnterpriseNameKey, taken))
        for unit in units:
            holder = holders[domain.name_key(unit.company["name"], unit.company["district"])]
            if holder["enterprise_id"] != unit.enterprise_id:
                unit.warnings.append({
                    "code": "possible_duplicate_enterprise", "field": "enterprise.name",
                    "message": f"an enterprise with this name in {unit.company['district']} is "
                               f"registered under NIB {holder['registration_number']} "
                               f"({holder['enterprise_id']}); if it is the same enterprise, "
                               "its enrollments belong under that NIB"})

    def _enroll(self, units: list[_Unit]) -> None:
        rows, events = zip(*[self._new_enrollment(unit) for unit in units])
        taken = self.store.insert_rows(Enrollment._get_collection_name(), list(rows))
        # Taken: made by an earlier attempt at this same submission that never answered.
        earlier = self._rows_by_id(Enrollment, [rows[index]["_id"] for index in taken],
                                   "enterprise_id", "status")
        for index, (unit, row) in enumerate(zip(units, rows)):
            unit.enrollment = earlier[row["_id"]] if index in taken else row
        self.outbox.publish_envelopes([event for index, event in enumerate(events)
                                       if index not in taken])

    def _new_enrollment(self, unit: _Unit) -> tuple[dict, dict]:
        """An Enrollment as stored, and the enrollment_accepted in its outbox."""
        receipt, submission, enrollment_id = unit.receipt, unit.submission, unit.enrollment_id
        company = {"enterprise_id": unit.enterprise_id, **submission["enterprise"]}
        team = domain.team_with_ids(enrollment_id, submission["team"])
        period = {k: v.isoformat() for k, v in submission["preferred_period"].items()}
        event = self.outbox.envelope("enrollment_accepted", {
            "enrollment_id": enrollment_id, "partner_id": receipt.partner_id,
            "module": submission["module"], "enterprise": company, "team": team,
            "preferred_period": period, "channel": receipt.channel,
            "submitted_at": receipt.received_at,
        }, correlation_id=receipt.correlation_id)
        return {
            "_id": enrollment_id, "version": 1, "outbox": [outbox_entry(event)],
            "partner_id": receipt.partner_id, "partner_message_id": receipt.message_id,
            "channel": receipt.channel, "enterprise_id": unit.enterprise_id,
            "enterprise": company, "module": submission["module"], "team": team,
            "preferred_period": period, "status": "accepted",
            "history": [{"status": "submitted", "at": receipt.received_at,
                         "actor": f"partner:{receipt.partner_id}", "channel": receipt.channel},
                        {"status": "accepted", "at": utcnow(), "actor": "enrollment"}],
            "submitted_at": receipt.received_at}, event

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


class _Refusal(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


# Rows in their documents' stored form (see the module's docstring).
def _seat_row(unit: _Unit, now: datetime) -> dict:
    return {"_id": domain.module_seat_id(unit.enterprise_id, unit.submission["module"]),
            "enrollment_id": unit.enrollment_id, "claimed_at": now}


def _enterprise_row(unit: _Unit, now: datetime) -> dict:
    return {"_id": unit.enterprise_id, "version": 1, "outbox": [], **unit.company,
            "registered_at": now, "registered_by": unit.receipt.partner_id, "history": []}


def _name_key_row(key: str, unit: _Unit) -> dict:
    return {"_id": key, "enterprise_id": unit.enterprise_id,
            "registration_number": unit.company["registration_number"]}


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
