"""The reporting service: read models from every event, indicators and reports.

Accepts: every platform event (it keeps them all, for rebuilds).
Emits: nothing yet (report_generated follows with the reports).
"""
from __future__ import annotations

from nameko.rpc import rpc

from score_common.envelope import Event
from score_common.messaging.consumer import event_handler
from score_common.service import ScoreService
from score_common.store import MongoStore
from score_reporting.models import EnrollmentFact, RecordedEvent
from score_reporting.projections import PROJECTIONS
from score_reporting.schemas import EnrollmentCountsSchema
from score_reporting.store import ReportingRepository


class ReportingService(ScoreService):
    name = "reporting"
    store: ReportingRepository = MongoStore(ReportingRepository,
                                            documents=[RecordedEvent, EnrollmentFact])

    @event_handler
    def handle_platform_event(self, event: Event):
        self.store.record(event)
        projection = PROJECTIONS.get(event.event_type)
        if projection is not None:
            row_type, build = projection
            self.store.project(row_type, build(event))

    @rpc
    def enrollment_counts(self) -> dict:
        return EnrollmentCountsSchema().dump(self.store.enrollment_counts())


SERVICE = ReportingService
