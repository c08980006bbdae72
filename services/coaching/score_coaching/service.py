"""The coaching service: visit plans, visit records and KPI measurements.

Runs with its store and health check; its handlers arrive with the coaching work.
"""
from __future__ import annotations

from score_common.service import ScoreService
from score_common.store import MongoStore


class CoachingService(ScoreService):
    name = "coaching"
    store = MongoStore()


SERVICE = CoachingService
