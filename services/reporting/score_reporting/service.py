"""The reporting service: the event log, read models folded from it, programme indicators,
donor exports and the enterprise improvement reports.

Accepts: every platform event (kept once each, for rebuilds).
Emits: report_ready (an enterprise's report is written; notifications tells its managers).
HTTP: /reporting/indicators[.csv|.xlsx], /reporting/enterprises/<enrollment>,
/reporting/cohorts/<workshop>, /reporting/reports/<report>.pdf (?lang=id|en) and .json.
"""
from __future__ import annotations

import logging
import time
import uuid

from nameko.rpc import rpc
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from score_common.commands import load
from score_common.envelope import Event
from score_common.errors import NotFound, Refused
from score_common.http import json_response, problem
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, utcnow
from score_reporting import indicators, projections, report
from score_reporting.models import (
    CohortRecord, EnterpriseRecord, RecordedEvent, Report, TrainingActivity,
)
from score_reporting.schemas import TrainingActivityCommand
from score_reporting.store import ReportingRepository, json_form

log = logging.getLogger("score.reporting")


def report_id(enrollment_id: str) -> str:
    return f"rep-{enrollment_id}"


class ReportingService(ScoreService):
    name = "reporting"
    store: ReportingRepository = MongoStore(ReportingRepository, documents=[
        RecordedEvent, EnterpriseRecord, CohortRecord, Report, TrainingActivity])
    outbox = Outbox(Report)

    @event_handler
    def handle_platform_event(self, event: Event):
        self.store.record([event])
        touched = projections.entities(event.event_type, json_form(event.payload))
        for entity in touched:
            state = self.store.refold(entity, [event.event_id])
            # written once all it tells is known: the enrollment, the workshop, the coaching
            # (events about them may arrive in any order)
            if entity.startswith("enr:") and state.get("coaching") and state.get("enrolled") \
                    and state.get("attendance") and not state.get("report"):
                self._write_report(state)
        return touched

    def _write_report(self, state: dict) -> str | None:
        """The enterprise's report, once: content, PDFs, and report_ready."""
        rid = report_id(state["enrollment_id"])
        if self.store.has_report(rid):
            return None
        started = time.perf_counter()
        content = report.content(state)
        doc = Report(id=rid, enrollment_id=state["enrollment_id"],
                     enterprise_id=content["enterprise"]["enterprise_id"],
                     generated_at=utcnow(), content=content,
                     pdf_id=report.pdf(content, "id"), pdf_en=report.pdf(content, "en"))
        base = self.container_info.config["SCORE_PUBLIC_URL"]
        self.outbox.record(doc, "report_ready", {
            "report_id": rid, "enrollment_id": state["enrollment_id"],
            "enterprise_id": content["enterprise"]["enterprise_id"],
            "enterprise_name": content["enterprise"]["name"] or "",
            "partner_id": state["partner_id"], "module": state["module"],
            "url": f"{base}/reporting/reports/{rid}.pdf",
            "recipients": [p for p in state["team"] if p["role"] == "manager"]})
        if self.store.insert_many([doc]):
            return None  # another worker wrote it first
        self.outbox.publish(doc)
        log.info("report %s written in %.0f ms", rid, (time.perf_counter() - started) * 1000)
        return rid

    # -- queries ---------------------------------------------------------------------------------
    @rpc
    def indicators(self, filters: dict | None = None) -> dict:
        """Programme indicators, filtered by module, province, partner_id, sector and
        period_from / period_to (ISO days)."""
        try:
            chosen = indicators.Filters.of(filters)
        except (TypeError, ValueError) as exc:
            raise Refused({"filters": [str(exc)]}) from None
        return self._programme(chosen)

    def _programme(self, chosen: indicators.Filters) -> dict:
        return indicators.programme(self.store.states(EnterpriseRecord),
                                    self.store.states(CohortRecord), chosen,
                                    self.store.other_activities())

    @rpc
    def record_training_activity(self, command: dict, actor: str = "staff") -> dict:
        """A training activity other than a module workshop (a Training of Trainers, a
        gender training for a union): it counts among the programme's activities. Repeating
        a command with its activity_id changes nothing."""
        data = load(TrainingActivityCommand(), command)
        activity_id = data.pop("activity_id") or f"act-{uuid.uuid4().hex[:10]}"
        self.store.insert_many([TrainingActivity(
            id=activity_id, **{**data, "day": data["day"].isoformat()}, recorded_by=actor,
            recorded_at=utcnow())])
        return {"activity_id": activity_id, **data, "day": data["day"].isoformat()}

    @rpc
    def enterprise_record(self, enrollment_id: str) -> dict:
        state = self.store.enterprise(enrollment_id)
        if state is None:
            raise NotFound(f"no record of enrollment {enrollment_id}")
        return state

    @rpc
    def cohort_progress(self, workshop_id: str) -> dict:
        state = self.store.cohort(workshop_id)
        if state is None:
            raise NotFound(f"no record of workshop {workshop_id}")
        return state

    @rpc
    def enterprise_report(self, report_id: str) -> dict:
        doc = self.store.report(report_id)
        if doc is None:
            raise NotFound(f"no report {report_id}")
        return {"report_id": doc.pk, "generated_at": doc.generated_at.isoformat(),
                **doc.content}

    @rpc
    def rebuild(self) -> dict:
        """Throw the read models away and fold them again from the recorded events."""
        return self.store.rebuild()

    @rpc
    def read_models(self) -> dict:
        """Every read model as stored (for checking a rebuild)."""
        return self.store.snapshot()

    # -- HTTP ------------------------------------------------------------------------------------
    def _filters(self, request) -> indicators.Filters | tuple:
        try:
            return indicators.Filters.of(dict(request.args))
        except (TypeError, ValueError) as exc:
            return problem(400, "bad-filter", "Unknown or malformed filter", str(exc))

    @http("GET", "/reporting/indicators")
    def indicators_http(self, request):
        chosen = self._filters(request)
        if isinstance(chosen, tuple):
            return chosen
        return json_response(200, self._programme(chosen))

    @http("GET", "/reporting/indicators.csv")
    def indicators_csv(self, request):
        chosen = self._filters(request)
        if isinstance(chosen, tuple):
            return chosen
        found = self._programme(chosen)
        return 200, {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition":
                     "attachment; filename=score-indicators.csv"}, indicators.to_csv(found)

    @http("GET", "/reporting/indicators.xlsx")
    def indicators_xlsx(self, request):
        chosen = self._filters(request)
        if isinstance(chosen, tuple):
            return chosen
        found = self._programme(chosen)
        return Response(indicators.to_xlsx(found), status=200, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": "attachment; filename=score-indicators.xlsx"})

    @http("GET", "/reporting/enterprises/<string:enrollment_id>")
    def enterprise_http(self, request, enrollment_id):
        state = self.store.enterprise(enrollment_id)
        if state is None:
            return problem(404, "not-found", "No such enrollment", enrollment_id)
        return json_response(200, state)

    @http("GET", "/reporting/cohorts/<string:workshop_id>")
    def cohort_http(self, request, workshop_id):
        state = self.store.cohort(workshop_id)
        if state is None:
            return problem(404, "not-found", "No such workshop", workshop_id)
        return json_response(200, state)

    @http("GET", "/reporting/reports/<string:name>")
    def report_http(self, request, name):
        rid, _, extension = name.rpartition(".")
        doc = self.store.report(rid) if extension in ("pdf", "json") else None
        if doc is None:
            return problem(404, "not-found", "No such report", name)
        if extension == "json":
            return json_response(200, {"report_id": doc.pk, **doc.content})
        language = request.args.get("lang", "id")
        if language not in ("id", "en"):
            return problem(400, "bad-language", "lang must be id or en", language)
        return Response(bytes(doc.pdf_id if language == "id" else doc.pdf_en), status=200,
                        headers={"Content-Type": "application/pdf", "Content-Disposition":
                                 f"inline; filename={rid}-{language}.pdf"})


SERVICE = ReportingService
