"""Notifications' repository."""
from __future__ import annotations

from pymongo.errors import BulkWriteError

from score_common.store import Repository
from score_notifications.models import Reminder, ReminderPlan


class NotificationsRepository(Repository):
    def plan(self, subject_id: str) -> ReminderPlan | None:
        return ReminderPlan.objects(pk=subject_id).first()

    def add_reminders(self, reminders: list[Reminder]) -> int:
        """Insert reminders whose keys are new; a key seen before is left as it is."""
        if not reminders:
            return 0
        try:
            result = Reminder._get_collection().insert_many(
                [r.to_mongo() for r in reminders], ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            duplicates = [e for e in exc.details["writeErrors"] if e["code"] == 11000]
            if len(duplicates) != len(exc.details["writeErrors"]):
                raise
            return exc.details["nInserted"]

    def reminders_for(self, subject_id: str) -> list[Reminder]:
        return list(Reminder.objects(subject_id=subject_id).order_by("due_at"))
